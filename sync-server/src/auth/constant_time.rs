//! Comparing secrets without leaking, through the time taken, how many leading bytes matched.

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
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}
