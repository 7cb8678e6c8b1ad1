//! Counting the rows a storage reads to answer pulls and snapshots. The count is the cost the
//! server's design promises to keep in proportion to the asking phone's scope (DESIGN.md,
//! "Storage on the server"); the benchmark harness reads it to report log rows read per
//! operation delivered, and it is cheap enough (one relaxed atomic add per page) to keep on.

use std::sync::atomic::{AtomicU64, Ordering};

/// Rows read so far, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Rows of the operation log read for pulls and long polls.
    pub log_rows: u64,
    /// Entries of the bucket indexes read to find them (operations and records).
    pub bucket_rows: u64,
    /// Rows of the records table read for snapshot pages and for records gained in pulls.
    pub record_rows: u64,
}

impl ReadCounts {
    /// What was read between `earlier` and `self`.
    pub fn since(self, earlier: ReadCounts) -> ReadCounts {
        ReadCounts {
            log_rows: self.log_rows.saturating_sub(earlier.log_rows),
            bucket_rows: self.bucket_rows.saturating_sub(earlier.bucket_rows),
            record_rows: self.record_rows.saturating_sub(earlier.record_rows),
        }
    }
}

/// The counters a storage adds to as it reads.
#[derive(Debug, Default)]
pub struct ReadCounters {
    log_rows: AtomicU64,
    bucket_rows: AtomicU64,
    record_rows: AtomicU64,
}

impl ReadCounters {
    /// Adds `n` log rows read.
    pub fn log_rows(&self, n: usize) {
        self.log_rows.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds `n` bucket index entries read.
    pub fn bucket_rows(&self, n: usize) {
        self.bucket_rows.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds `n` record rows read.
    pub fn record_rows(&self, n: usize) {
        self.record_rows.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn get(&self) -> ReadCounts {
        ReadCounts {
            log_rows: self.log_rows.load(Ordering::Relaxed),
            bucket_rows: self.bucket_rows.load(Ordering::Relaxed),
            record_rows: self.record_rows.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_differences_are_taken_between_two_readings() {
        let c = ReadCounters::default();
        c.log_rows(3);
        let first = c.get();
        c.log_rows(1001);
        c.record_rows(55);
        c.bucket_rows(7);
        let d = c.get().since(first);
        assert_eq!(
            d,
            ReadCounts {
                log_rows: 1001,
                bucket_rows: 7,
                record_rows: 55
            }
        );
    }
}
