//! Reader connections: queries run on connections of their own, so they never wait behind the
//! writer (a sync page, an import) holding the store's write lock (ADR 0028).
//!
//! The store is in WAL mode: a reader sees the last committed transaction and neither blocks
//! the writer nor waits for it. Each reader is opened like the checkpointer's connection (the
//! key first, no schema work) and set `query_only`, so a query that tried to write would fail
//! loudly instead of writing outside the writer's lock. Idle readers are kept for the next
//! query, up to [`MAX_IDLE`]; a burst of concurrent queries opens more and closes the extras.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::Result;
use crate::store::key::StoreKey;

/// Idle reader connections kept open between queries.
pub const MAX_IDLE: usize = 3;

/// The reader connections of one file store.
pub struct Readers {
    path: PathBuf,
    key: Option<StoreKey>,
    cache_mb: Option<u32>,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("encrypted", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl Readers {
    /// Readers of the store at `path` (already opened, migrated and in WAL mode by the writer).
    /// One reader is opened now, so that a key or file problem shows at open.
    pub fn new(path: &Path, key: Option<&StoreKey>, cache_mb: Option<u32>) -> Result<Readers> {
        let readers = Readers {
            path: path.to_path_buf(),
            key: key.cloned(),
            cache_mb,
            idle: Mutex::new(Vec::new()),
        };
        let first = readers.open()?;
        readers.put_back(first);
        Ok(readers)
    }

    /// Runs `f` on an idle reader (or a new one).
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match self.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = f(&conn);
        self.put_back(conn);
        out
    }

    fn take(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        if let Some(key) = &self.key {
            crate::store::open::apply_key(&conn, key)?;
        }
        // A reader waits only for the moments SQLite itself needs (a log starting over), never
        // for a writer's transaction.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA query_only = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -8000;",
        )?;
        if let Some(mb) = self.cache_mb {
            conn.pragma_update(None, "cache_size", -(i64::from(mb) * 1024))?;
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_sees_commits_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let writer = crate::store::open::open_database(&path, None).unwrap();
        let readers = Readers::new(&path, None, None).unwrap();
        crate::store::meta::set(&writer, "test.k", "v1").unwrap();
        let seen = readers
            .with(|c| crate::store::meta::get(c, "test.k"))
            .unwrap();
        assert_eq!(seen.as_deref(), Some("v1"));
        let write = readers.with(|c| crate::store::meta::set(c, "test.k", "v2"));
        assert!(write.is_err(), "a reader never writes");
        assert_eq!(
            crate::store::meta::get(&writer, "test.k")
                .unwrap()
                .as_deref(),
            Some("v1")
        );
    }

    #[test]
    fn a_reader_does_not_wait_for_an_open_write_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let writer = crate::store::open::open_database(&path, None).unwrap();
        let readers = Readers::new(&path, None, None).unwrap();
        crate::store::meta::set(&writer, "test.k", "before").unwrap();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        crate::store::meta::set(&writer, "test.k", "during").unwrap();
        // The writer holds its transaction open: the reader answers at once from the last
        // commit (a reader that waited would block here for the busy timeout and fail).
        let seen = readers
            .with(|c| crate::store::meta::get(c, "test.k"))
            .unwrap();
        assert_eq!(seen.as_deref(), Some("before"));
        writer.execute_batch("COMMIT").unwrap();
        let seen = readers
            .with(|c| crate::store::meta::get(c, "test.k"))
            .unwrap();
        assert_eq!(seen.as_deref(), Some("during"));
    }

    #[test]
    fn queries_answer_while_a_sync_page_holds_the_writer() {
        use gridwork_domain::model::{Area, AreaLevel};
        let dir = tempfile::tempdir().unwrap();
        let gw = std::sync::Arc::new(crate::Gridwork::open(dir.path().join("phone.db")).unwrap());
        gw.create(Area {
            id: uuid::Uuid::nil(),
            level: AreaLevel::District,
            code: "330106".into(),
            name: "西湖区".into(),
            parent_id: None,
            response_policies: vec![],
        })
        .unwrap();
        let (inside, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = {
            let gw = std::sync::Arc::clone(&gw);
            std::thread::spawn(move || {
                gw.with_tx(|_, _, _| {
                    inside.send(()).unwrap();
                    // The page's transaction stays open until the query below has answered.
                    released.recv().unwrap();
                    Ok(())
                })
                .unwrap();
            })
        };
        held.recv().unwrap();
        // Under the writer's lock a query would wait here for ever (the writer waits for us).
        let areas = gw.child_areas(None).unwrap();
        assert_eq!(areas.len(), 1);
        assert_eq!(gw.pending_count().unwrap(), 1);
        assert!(gw.now_ms() > 0, "the clock is not behind the writer's lock");
        release.send(()).unwrap();
        writer.join().unwrap();
    }
}
