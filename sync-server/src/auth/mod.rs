//! Credentials: the bearer token a device gets when it enrolls and the one-time enrollment code
//! an admin hands to a user. Both are random, shown once, and kept by the server only as
//! SHA-256 hashes, so a copy of the database file does not let anyone act as a device.

pub mod constant_time;
pub mod device_cache;
pub mod enrollment_code;
pub mod token;

pub use constant_time::constant_time_eq;
pub use device_cache::{Checked, DeviceCache};
pub use enrollment_code::{ENROLLMENT_CODE_TTL_MS, hash_enrollment_code, new_enrollment_code};
pub use token::{hash_token, new_token, token_device};
