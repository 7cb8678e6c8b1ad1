//! WAL checkpoints off the write path (ADR 0018).
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the log past 1,000 pages:
//! that edit pays for copying the whole log into the database and for two `fsync`s, and an edit
//! meets one every hundred or so. Here the writer never copies the log itself. Its WAL hook only
//! counts the log's pages after each commit:
//!
//! - when [`SOFT_PAGES`] pages wait to be copied it wakes a checkpointer thread, which copies
//!   them with a `PASSIVE` checkpoint on its own connection while the writer goes on writing
//!   (so a pass, with its two `fsync`s, comes once per thousand pages, not once per commit);
//! - past [`HARD_PAGES`] (a writer that never pauses: a bulk pull, a burst of edits) the log
//!   never gets the moment with every frame copied that SQLite needs to start it over, so the
//!   writer itself runs a `PASSIVE` checkpoint between two transactions once the thread has left
//!   at most [`RESIDUAL_PAGES`] to copy; at [`LIMIT_PAGES`] it copies whatever is left. Once
//!   every frame is copied, SQLite starts the log over at the next write. A `PASSIVE`
//!   checkpoint never waits: when the thread holds the checkpoint lock, the writer's pass is
//!   skipped and tried again at the next commit.
//!
//! A phone's edits come seconds apart: the thread's pass copies everything and the log starts
//! over without the writer ever paying for it. If the thread cannot be started (its connection
//! does not open), the store keeps SQLite's automatic checkpoint and says so in the log.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};

use crate::error::Result;
use crate::store::key::StoreKey;

/// Log pages after which the checkpointer thread is woken (SQLite's own default threshold).
pub const SOFT_PAGES: i32 = 1_000;

/// Log pages after which the writer itself finishes the checkpoint between two transactions,
/// once the thread has copied all but [`RESIDUAL_PAGES`] of them.
pub const HARD_PAGES: i32 = 4_000;

/// The most pages the writer copies itself, short of [`LIMIT_PAGES`].
pub const RESIDUAL_PAGES: i32 = 400;

/// Log pages at which the writer checkpoints whatever is left: the bound on the log's growth
/// when the thread cannot keep up.
pub const LIMIT_PAGES: i32 = 3 * HARD_PAGES;

/// How much further every threshold above is pushed while a bootstrap writes (one long write,
/// [`Checkpointer::set_bulk`]): passes four times rarer copy the pages a bootstrap rewrites at
/// every commit (the last leaf and the inner pages of each b-tree) once instead of four times,
/// and the log stays under `4 × LIMIT_PAGES` pages (about 190 MB at 4 KiB a page) until the
/// bootstrap ends (ADR 0037).
pub const BULK_FACTOR: i32 = 4;

#[derive(Debug, Default)]
struct Flags {
    wanted: bool,
    stop: bool,
    /// Frames of the log known to be copied (by the last pass of either side).
    copied: i32,
    /// Frames in the log after the last commit, and frames written by all commits since the
    /// store was opened (each frame is one page; the benchmark reports pages per edit).
    last_pages: i32,
    written: u64,
    /// Passes of the thread that found the log in WAL mode and copied frames (tests,
    /// diagnostics).
    passes: u64,
    /// A bootstrap is writing: every threshold is [`BULK_FACTOR`] times higher.
    bulk: bool,
}

impl Flags {
    fn factor(&self) -> i32 {
        if self.bulk { BULK_FACTOR } else { 1 }
    }
}

#[derive(Debug, Default)]
struct Shared {
    flags: Mutex<Flags>,
    wake: Condvar,
}

impl Shared {
    fn flags(&self) -> MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The checkpointer thread of one store; stopped and joined when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to the store at `path` and hands the writer's
    /// checkpoints to it: `writer`'s automatic checkpoint is replaced by the WAL hook described
    /// above. Returns `None` (and leaves `writer` as it was) when the store is not in WAL mode.
    pub fn attach(
        writer: &mut Connection,
        path: &Path,
        key: Option<&StoreKey>,
    ) -> Result<Option<Checkpointer>> {
        let mode: String = writer.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(None);
        }
        let conn = open_checkpointer(path, key)?;
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("gridwork-checkpoint".into())
                .spawn(move || run(&conn, &shared))
                .map_err(|source| crate::error::Error::File {
                    action: "starting the checkpoint thread".into(),
                    source,
                })?
        };
        // Owned before the hook is installed: should installing it fail, dropping this stops
        // the thread.
        let checkpointer = Checkpointer {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        let hook_shared = shared;
        writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            let mut flags = hook_shared.flags();
            let (added, restarted) = log_growth(flags.last_pages, pages);
            flags.written += added as u64;
            flags.last_pages = pages;
            if restarted {
                // What the last pass copied belongs to the log before it started over.
                flags.copied = 0;
            }
            let behind = pages - flags.copied;
            let k = flags.factor();
            if pages >= k * HARD_PAGES && (behind <= k * RESIDUAL_PAGES || pages >= k * LIMIT_PAGES)
            {
                drop(flags);
                // Never an error from here: SQLite would report it as the failure of a
                // commit that has in fact happened. A busy or failed pass (the thread holds
                // the checkpoint lock) is tried again at the next commit.
                match wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    Ok((_, copied)) => hook_shared.flags().copied = copied,
                    Err(e) => {
                        tracing::debug!(error = %e, pages, "writer's checkpoint pass skipped")
                    }
                }
            } else if behind >= k * SOFT_PAGES && !flags.wanted {
                flags.wanted = true;
                hook_shared.wake.notify_one();
            }
            Ok(())
        }))?;
        Ok(Some(checkpointer))
    }

    /// Tunes the checkpoints for one long write (a bootstrap: `true`) or for a phone's edits
    /// (`false`, the default): see [`BULK_FACTOR`].
    pub fn set_bulk(&self, bulk: bool) {
        self.shared.flags().bulk = bulk;
    }

    /// Whether the checkpoints are tuned for one long write.
    pub fn is_bulk(&self) -> bool {
        self.shared.flags().bulk
    }

    /// Checkpoint passes of the thread that copied frames.
    pub fn passes(&self) -> u64 {
        self.shared.flags().passes
    }

    /// Pages (log frames) written by every commit since the store was opened, by
    /// [`log_growth`] (undercounted only for a commit of over 4,000 pages right after the log
    /// started over, more than any benchmark commit).
    pub fn pages_written(&self) -> u64 {
        self.shared.flags().written
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.flags().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The frames one commit added to the log, given the log's length (in frames) after the
/// commit before and after this one, and whether the log started over in between: a log that
/// started over is shorter than before and holds only this commit's frames. (A commit of more
/// frames than the log held before it started over is taken for growth: undercounted.)
pub fn log_growth(before: i32, after: i32) -> (i32, bool) {
    if after >= before {
        (after - before, false)
    } else {
        (after, true)
    }
}

/// The thread's connection: the key first, as for the writer; no schema work, no migration.
fn open_checkpointer(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    if let Some(key) = key {
        crate::store::open::apply_key(&conn, key)?;
    }
    conn.busy_timeout(Duration::from_millis(100))?;
    // A connection learns that the store is in WAL mode when it first reads it; until then a
    // checkpoint does nothing (it reports -1 frames).
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    // Only the writer decides when to checkpoint; this connection never writes. Its passes
    // sync as the writer's own would.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = NORMAL")?;
    Ok(conn)
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut flags = shared.flags();
            while !flags.wanted && !flags.stop {
                flags = shared.wake.wait(flags).unwrap_or_else(|p| p.into_inner());
            }
            if flags.stop {
                return;
            }
            flags.wanted = false;
        }
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok((log, copied)) => {
                tracing::trace!(log, copied, "checkpoint pass");
                let mut flags = shared.flags();
                flags.copied = copied;
                if copied > 0 {
                    flags.passes += 1;
                }
            }
            Err(e) => tracing::debug!(error = %e, "checkpoint pass failed; tried again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::open_database;

    fn wal_pages(path: &Path) -> u64 {
        let wal = path.with_file_name(format!(
            "{}-wal",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::metadata(wal).map_or(0, |m| m.len()) / 4096
    }

    fn write_rows(conn: &Connection, n: usize) {
        for i in 0..n {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (format!("k{}", i % 500), "x".repeat(2_000)),
            )
            .unwrap();
        }
    }

    /// Rows whose values differ from the round before (SQLite skips a write that changes no
    /// byte of a row).
    fn write_changed_rows(conn: &Connection, n: usize, round: usize) {
        for i in 0..n {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (format!("k{i}"), format!("{round:04}{}", "x".repeat(2_000))),
            )
            .unwrap();
        }
    }

    #[test]
    fn the_thread_copies_the_log_and_it_starts_over_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let key = StoreKey::generate();
        let mut writer = open_database(&path, Some(&key)).unwrap();
        let ckpt = Checkpointer::attach(&mut writer, &path, Some(&key))
            .unwrap()
            .expect("a WAL store gets a checkpointer");
        // Enough commits to pass the soft threshold several times, with pauses so that the
        // thread catches up (a phone's pace).
        for _ in 0..12 {
            write_rows(&writer, 300);
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(ckpt.passes() > 0, "the thread ran no checkpoint");
        // The log started over: it never grew much past the soft threshold, though far more
        // pages than that were written.
        let pages = wal_pages(&path);
        assert!(
            pages < (HARD_PAGES as u64),
            "the log grew to {pages} pages: it never started over"
        );
        // Everything is there and the store is whole.
        let n: i64 = writer
            .query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 300);
        let ok: String = writer
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }

    #[test]
    fn a_writer_that_never_pauses_keeps_the_log_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut writer = open_database(&path, None).unwrap();
        let _ckpt = Checkpointer::attach(&mut writer, &path, None)
            .unwrap()
            .unwrap();
        let mut most = 0;
        for _ in 0..40 {
            write_rows(&writer, 250);
            most = most.max(wal_pages(&path));
        }
        // Far more than HARD_PAGES pages were written (about 20,000); the log stays within
        // the hard threshold plus the commits written while a pass was running.
        assert!(
            most < (LIMIT_PAGES + 2_000) as u64,
            "the log reached {most} pages under a writer that never pauses"
        );
    }

    #[test]
    fn the_pages_written_by_commits_are_counted_across_restarts_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut writer = open_database(&path, None).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        let ckpt = Checkpointer::attach(&mut writer, &path, None)
            .unwrap()
            .unwrap();
        assert_eq!(ckpt.pages_written(), 0);
        writer
            .execute("INSERT INTO t (v) VALUES ('x')", [])
            .unwrap();
        let first = ckpt.pages_written();
        assert!(first >= 1, "a commit writes at least one page");
        // The same one-page change, committed 6,000 times: the log starts over several times
        // (the writer finishes a checkpoint past 4,000 pages), and every commit still counts
        // what the first one did.
        for i in 0..6_000 {
            writer
                .execute("UPDATE t SET v = ?1 WHERE id = 1", [i])
                .unwrap();
        }
        let per_commit = (ckpt.pages_written() - first) as f64 / 6_000.0;
        assert!(
            (0.99..=first as f64 + 0.01).contains(&per_commit),
            "{per_commit} pages per commit (the first wrote {first})"
        );
    }

    #[test]
    fn a_bulk_write_is_checkpointed_at_higher_thresholds_then_back_to_a_phones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut writer = open_database(&path, None).unwrap();
        let ckpt = Checkpointer::attach(&mut writer, &path, None)
            .unwrap()
            .unwrap();
        ckpt.set_bulk(true);
        assert!(ckpt.is_bulk());
        // About 2,500 pages, past the phone's soft threshold but under the bulk one: no pass.
        for round in 0..10 {
            write_changed_rows(&writer, 250, round);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ckpt.pages_written() > SOFT_PAGES as u64);
        assert_eq!(ckpt.passes(), 0, "a pass ran under the bulk threshold");
        // Past it, the thread copies the log.
        for round in 10..22 {
            write_changed_rows(&writer, 250, round);
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(
            ckpt.passes() > 0,
            "no pass past the bulk threshold ({} pages written)",
            ckpt.pages_written()
        );
        // Back to a phone's thresholds.
        ckpt.set_bulk(false);
        assert!(!ckpt.is_bulk());
        let before = ckpt.passes();
        for round in 22..30 {
            write_changed_rows(&writer, 300, round);
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(ckpt.passes() > before);
        assert!(wal_pages(&path) < (BULK_FACTOR * LIMIT_PAGES) as u64);
    }

    #[test]
    fn a_store_not_in_wal_mode_gets_no_thread() {
        let mut conn = Connection::open_in_memory().unwrap();
        let got = Checkpointer::attach(&mut conn, Path::new(":memory:"), None).unwrap();
        assert!(got.is_none());
    }

    #[test]
    fn dropping_it_stops_the_thread_and_the_store_reopens_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        {
            let mut writer = open_database(&path, None).unwrap();
            let ckpt = Checkpointer::attach(&mut writer, &path, None)
                .unwrap()
                .unwrap();
            write_rows(&writer, 1_500);
            drop(ckpt);
        }
        let again = open_database(&path, None).unwrap();
        let n: i64 = again
            .query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 500);
    }
}
