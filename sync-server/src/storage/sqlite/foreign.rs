//! Waking long polls for operations another process committed to the same file: an operator's
//! `gridwork-server import` (or `area move`, `admin` …) writing the database the server serves.
//! PostgreSQL hears those through NOTIFY (`storage/postgres/notify.rs`); SQLite has no such
//! signal between processes, so a watcher thread looks — only while polls wait — at the
//! file's `PRAGMA data_version` every [`INTERVAL`] (a counter SQLite moves when another
//! connection commits; reading it is a few microseconds and no disk read), and when it moved,
//! at the end of the log. Past what this process stored itself, it wakes every waiting poll:
//! each re-reads its own buckets and answers only if something of its scope came (ADR 0030).
//! An own push that committed a moment before it said so is told apart by waiting
//! [`OWN_PUSH_GRACE`] and looking again.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::watch;

use super::{open, oplog};
use crate::storage::Wakeups;

/// How often the watcher looks while polls wait: an import's rows reach a waiting phone within
/// about this much, and an idle server reads nothing.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// How long an own push may take between its commit and its wake-up.
const OWN_PUSH_GRACE: Duration = Duration::from_millis(50);

/// Starts the watcher of the database at `path`. It ends by itself once the storage and every
/// waiting poll are gone.
pub(super) fn spawn(path: PathBuf, wakeups: &Arc<Wakeups>, last_seq: &Arc<watch::Sender<u64>>) {
    let wakeups = Arc::downgrade(wakeups);
    let last_seq = Arc::downgrade(last_seq);
    let spawned = std::thread::Builder::new()
        .name("gridwork-sqlite-watch".into())
        .spawn(move || watch_loop(path, wakeups, last_seq));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no watcher of other processes' commits: polls wake on this process's pushes only");
    }
}

fn watch_loop(path: PathBuf, wakeups: Weak<Wakeups>, last_seq: Weak<watch::Sender<u64>>) {
    let mut conn: Option<Connection> = None;
    let mut seen_version: Option<i64> = None;
    loop {
        std::thread::sleep(INTERVAL);
        let (Some(wakeups), Some(last_seq)) = (wakeups.upgrade(), last_seq.upgrade()) else {
            return;
        };
        if wakeups.waiting() == 0 {
            continue;
        }
        if conn.is_none() {
            conn = open::open_reader(&path).ok();
        }
        let Some(c) = &conn else { continue };
        let Ok(version) = c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) else {
            conn = None;
            continue;
        };
        if seen_version == Some(version) {
            continue;
        }
        seen_version = Some(version);
        let Ok(end) = oplog::last_seq(c) else {
            conn = None;
            continue;
        };
        if end <= *last_seq.borrow() {
            continue;
        }
        std::thread::sleep(OWN_PUSH_GRACE);
        if end <= *last_seq.borrow() {
            continue;
        }
        last_seq.send_if_modified(|seen| {
            let moved = end > *seen;
            *seen = (*seen).max(end);
            moved
        });
        let woken = wakeups.wake_all(end);
        tracing::debug!(end, woken, "operations committed by another process");
    }
}
