//! The scenarios, one file each, and what they share: the run's settings, a device store and a
//! raw SQLite connection opened exactly alike (same pragmas, same SQLCipher key setting).

use std::path::Path;
use std::time::{Duration, Instant};

use gridwork_core::store::checkpoint::log_growth;
use gridwork_core::store::open::open_database;
use gridwork_core::{Gridwork, OpenOptions, StoreKey};
use rusqlite::Connection;

use crate::mem_transport::MemLog;

pub mod alarm;
pub mod apply;
pub mod bootstrap;
pub mod city;
pub mod growth;
pub mod hostile;
pub mod import;
pub mod local_edit;
pub mod peer;
pub mod server_load;
pub mod wal_pages;

/// The run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Small sizes: a smoke run, seconds in a debug build. Its figures mean nothing.
    pub quick: bool,
    /// The PostgreSQL server for the server-load scenario, or why there is none.
    pub postgres: Result<String, String>,
    /// The alarm scenario runs a second time with the dispatcher's phone uploading a 20 MB
    /// photo during every round (`--alarm-upload`, issue 24).
    pub alarm_upload: bool,
}

impl Config {
    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// The key every store of the benchmark is encrypted with: phones keep their store encrypted
/// (ADR 0012), so the figures include SQLCipher's cost, and so do the raw references.
pub fn bench_key() -> StoreKey {
    StoreKey::from_bytes([0x5a; StoreKey::LEN])
}

/// A device store in `dir`, encrypted with [`bench_key`].
pub fn device(dir: &Path, name: &str) -> Gridwork {
    Gridwork::open_with(dir.join(name), OpenOptions::with_key(bench_key()))
        .expect("the device store opens")
}

/// A connection opened the one way the device opens its store (pragmas, key, schema), for the
/// raw SQL references.
pub fn raw_connection(dir: &Path, name: &str) -> Connection {
    open_database(&dir.join(name), Some(&bench_key())).expect("the raw store opens")
}

/// Counts the pages (log frames) a raw connection's commits write, keeping SQLite's own
/// automatic checkpoint (a WAL hook replaces it, so the hook runs it as SQLite would): the
/// reference side of the "pages written" figures, beside [`Gridwork::pages_written`].
pub fn count_raw_pages(conn: &mut Connection) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let written = std::sync::Arc::new(AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&written);
    let mut last = 0i32;
    conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
        let (added, _) = log_growth(last, pages);
        counter.fetch_add(added as u64, Ordering::Relaxed);
        last = pages;
        if pages >= 1_000 {
            // SQLite's default hook: a PASSIVE checkpoint past 1,000 pages; never an error.
            let _ = wal.checkpoint();
        }
        Ok(())
    }))
    .expect("the WAL hook installs");
    written
}

/// Applies everything waiting in `log` through the device's pull step, search index included
/// (re-indexing what the pages left marked is part of the work); returns the time taken.
pub async fn pull_all(gw: &Gridwork, log: &MemLog) -> Duration {
    let started = Instant::now();
    gw.wait_for_changes(log, 0)
        .await
        .expect("the pulled pages apply");
    gw.refresh_search().expect("the search index catches up");
    started.elapsed()
}

/// The number of records a device holds.
pub fn held(gw: &Gridwork) -> usize {
    gw.record_ids().expect("the store reads").len()
}
