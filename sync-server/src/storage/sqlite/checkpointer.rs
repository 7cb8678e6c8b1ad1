//! The checkpointer: a thread of its own that copies the WAL back into the database file, so
//! the writer thread never does.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! connection that committed: here the one writer thread, which every push waits for. A profile
//! of the closed loop of 1,000 phones put 13 % of that thread in checkpoints (copying pages,
//! then an fsync). Now the writer's commit only notes, through SQLite's WAL hook, that the log
//! has grown past [`WAL_CHECKPOINT_PAGES`] and wakes this thread, which runs a passive checkpoint
//! on its own connection: it copies what no reader still needs, waits for nobody, and the next
//! write after a complete one starts the log again from its beginning, as before. The writer goes
//! on committing meanwhile (WAL allows one writer beside a checkpoint).
//!
//! A checkpoint that runs beside the writer may fall behind it: while pushes keep coming it never
//! quite catches up, and the log would grow without end. So when the log reaches
//! [`WRITER_CATCH_UP`] times the threshold, the writer's commit runs a passive checkpoint itself,
//! as SQLite's automatic one did (copying only what the thread has not), and the log stays bounded.
//!
//! If the thread's connection cannot be opened, the writer keeps SQLite's automatic checkpoint.

use std::ffi::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};

use super::open::WAL_CHECKPOINT_PAGES;

/// Times [`WAL_CHECKPOINT_PAGES`] at which the writer checkpoints by itself (the thread behind).
pub const WRITER_CATCH_UP: u32 = 4;

/// The thread and the counts it keeps.
#[derive(Debug)]
pub struct Checkpointer {
    thread: Option<JoinHandle<()>>,
    /// Checkpoints run so far (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    runs: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Opens a connection of its own on the database of `writer` and starts the thread; hands
    /// the writer's WAL hook to it (replacing SQLite's automatic checkpoint on that connection).
    /// `None`, and the writer left as it was, when the database has no file or the connection
    /// cannot be opened.
    pub fn start(writer: &mut Connection) -> Option<Checkpointer> {
        let path = writer.path().filter(|p| !p.is_empty())?.to_owned();
        let conn = match open(Path::new(&path)) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "the WAL is checkpointed by the writer: cannot open the checkpointer's connection");
                return None;
            }
        };
        // One waiting wake-up is enough: the checkpoint that runs copies everything up to then.
        let (pokes, poked) = mpsc::sync_channel::<()>(1);
        let runs = Arc::new(AtomicU64::new(0));
        let thread = {
            let runs = runs.clone();
            std::thread::Builder::new()
                .name("gridwork-sqlite-checkpointer".into())
                .spawn(move || checkpoints(conn, poked, &runs))
        };
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                tracing::warn!(error = %e, "the WAL is checkpointed by the writer: cannot start the checkpointer thread");
                return None;
            }
        };
        if let Err(e) = writer.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            if pages >= (WRITER_CATCH_UP * WAL_CHECKPOINT_PAGES) as c_int {
                // The thread is behind: catch up here, as the automatic checkpoint would.
                if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    tracing::warn!(error = %e, "WAL checkpoint by the writer");
                }
            } else if pages >= WAL_CHECKPOINT_PAGES as c_int {
                poke(&pokes);
            }
            Ok(())
        })) {
            tracing::warn!(error = %e, "the WAL is checkpointed by the writer: cannot hook its commits");
            // The hook was not set: the sender is gone and the thread ends by itself.
            return None;
        }
        Some(Checkpointer {
            thread: Some(thread),
            runs,
        })
    }

    /// Checkpoints run so far.
    #[cfg(test)]
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Waits for the thread to end: it ends once the writer connection (which holds the hook,
    /// and with it the only sender) is closed.
    pub fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn poke(pokes: &SyncSender<()>) {
    match pokes.try_send(()) {
        // Already asked and not yet started: that run will copy this commit too.
        Ok(()) | Err(TrySendError::Full(())) => {}
        Err(TrySendError::Disconnected(())) => {}
    }
}

/// A read-write connection on an existing, migrated database, for checkpoints only.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The thread's loop: a passive checkpoint each time it is woken, until the writer is gone.
fn checkpoints(conn: Connection, poked: mpsc::Receiver<()>, runs: &AtomicU64) {
    while poked.recv().is_ok() {
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok(_) => {
                runs.fetch_add(1, Ordering::Relaxed);
            }
            // Busy (another checkpoint, e.g. an operator's tool, runs) or an I/O error: the
            // next commit past the threshold asks again.
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::open::open_writer;

    /// Frames the WAL file has held at most (its size: it is reused from its beginning after
    /// a checkpoint, not shrunk): a 32-byte header, then a 24-byte header and a page per frame.
    fn wal_frames(db: &Path, page_size: u64) -> u64 {
        let wal = db.with_extension("db-wal");
        std::fs::metadata(wal)
            .map(|m| m.len())
            .unwrap_or(0)
            .saturating_sub(32)
            / (24 + page_size)
    }

    /// Writes past the threshold are copied back by the checkpointer thread, not the writer's
    /// commit: the WAL starts again from its beginning instead of growing with every write.
    #[test]
    fn the_wal_is_checkpointed_by_its_own_thread() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let mut writer = open_writer(&db).unwrap();
        let mut checkpointer = Checkpointer::start(&mut writer).expect("a checkpointer");
        writer
            .execute_batch("CREATE TABLE filler (n INTEGER PRIMARY KEY, pad BLOB)")
            .unwrap();
        // Each commit writes ~10 pages; 6 × the threshold in all, more than the log may hold.
        let commits = 6 * WAL_CHECKPOINT_PAGES as usize / 10;
        for n in 0..commits {
            let tx = writer.transaction().unwrap();
            for k in 0..10 {
                tx.execute(
                    "INSERT INTO filler (n, pad) VALUES (?1, zeroblob(3000))",
                    [(n * 10 + k) as i64],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        // The thread runs after the commit that woke it: wait for it (bounded).
        let mut waited = 0;
        while checkpointer.runs() == 0 && waited < 500 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        assert!(checkpointer.runs() > 0, "the checkpointer never ran");
        // Without checkpoints the WAL would hold every page written (> 6 × the threshold);
        // with them it restarts from its beginning and stays bounded, at worst by the writer's
        // own catch-up (this loop commits without a pause, so the thread is always behind).
        let page_size: i64 = writer
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let frames = wal_frames(&db, page_size as u64);
        assert!(
            frames <= (WRITER_CATCH_UP * WAL_CHECKPOINT_PAGES) as u64 + 100,
            "the WAL grew to {frames} frames"
        );
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, commits * 10);
        drop(writer);
        checkpointer.join();
    }
}
