//! Comparing secrets without leaking, through the time taken, how many leading bytes matched:
//! the `subtle` crate's comparison, which is written to resist the optimiser turning it back
//! into an early exit.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` are equal, looking at every byte whatever the first difference.
/// Lengths are not secret here (hashes have a fixed length), so unequal lengths return early.
///
/// ```
/// use gridwork_server::auth::constant_time_eq;
/// assert!(constant_time_eq(b"abc", b"abc"));
/// assert!(!constant_time_eq(b"abc", b"abd"));
/// assert!(!constant_time_eq(b"abc", b"ab"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // `ct_eq` answers false at once for unequal lengths too.
    a.ct_eq(b).into()
}
