//! What the two backends' group commits share (SQLite's writer thread, ADR 0031; PostgreSQL's
//! committers, ADR 0038): how large a group may grow, and counts of the groups committed.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Pushes committed together at most; the operations they hold are bounded too
/// ([`MAX_GROUP_OPS`]), so one commit never grows without end under load.
pub const MAX_GROUP_PUSHES: usize = 64;
/// Operations in one group at most (a group always takes its first push, however large).
pub const MAX_GROUP_OPS: usize = 2_000;

/// How many commits carried how many pushes (for the tests and the benchmark notes).
#[derive(Debug, Default)]
pub struct GroupStats {
    pub groups: AtomicUsize,
    pub pushes: AtomicUsize,
    pub largest: AtomicUsize,
    /// Records and places the pushes read from the database rather than from what the writer
    /// keeps (SQLite's writer; ADR 0031's third addendum).
    pub records_read: AtomicUsize,
}

impl GroupStats {
    /// Counts a group of `pushes` pushes.
    pub fn record(&self, pushes: usize) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.pushes.fetch_add(pushes, Ordering::Relaxed);
        self.largest.fetch_max(pushes, Ordering::Relaxed);
    }
}
