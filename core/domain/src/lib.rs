//! `gridwork-domain`: the sans-I/O heart of gridwork, shared by the device core and the server.
//!
//! - [`model`]: the records (areas, buildings, households, residents, registrations, stations,
//!   cases, patrols).
//! - [`validate`]: checks at the edge (resident ID numbers, phones, address codes, positions).
//! - [`workflow`]: the field rules: case lifecycles folded from events, deadlines and colours,
//!   alarms, registration figures, the weekly brief.
//! - [`hlc`]: the hybrid logical clock that stamps every change.
//! - [`op`]: operations, the unit of change that is stored, synced and merged.
//! - [`scope`]: roles and scopes: who may see which record and who may change what.
//!
//! Nothing here touches a disk, a socket or the wall clock: callers pass time in.

pub mod attachment;
pub mod hlc;
pub mod ids;
pub mod model;
pub mod validate;
pub mod workflow;

pub use hlc::{Hlc, HlcClock, Stamp};
pub use ids::{DeviceId, Id, new_id};
pub mod merge;
pub mod op;
pub mod scope;
pub mod sync;
