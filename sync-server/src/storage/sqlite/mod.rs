//! The SQLite backend: one file, zero setup, the embedded default.
//!
//! One writer connection, owned by a thread of its own that runs every write in arrival order
//! and commits concurrent pushes together (`writer.rs`: SQLite has one writer anyway), and a
//! bounded pool of read-only connections for pulls, snapshots and token checks, which WAL lets
//! run beside the writer. Reads run in `tokio::task::spawn_blocking` once a connection is free
//! (a read waits for one rather than opening more: a connection opened per request would parse
//! the schema and prepare its statements again each time), so the async runtime's threads never
//! wait on the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;

use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::Op;
use gridwork_domain::scope::Place;
use gridwork_domain::sync::{PushResult, Role};
use gridwork_domain::workflow::{CaseEvent, Ledger};
use rusqlite::Connection;
use tokio::sync::watch;

use gridwork_domain::scope::Bucket;

use super::{
    DeviceCredentials, DeviceInfo, EnrollError, LogPage, PlacedRecord, PoolStatus, ReadCounters,
    ReadCounts, RecordRows, Storage, StorageError, User, Wakeups,
};
use crate::rules::PushContext;

mod accounts;
pub(crate) mod blob_refs;
mod console;
pub mod foreign;
mod intake;
pub mod open;
mod oplog;
mod records;
mod snapshot;
mod writer;

pub use crate::storage::groups::GroupStats;

/// Read connections at most: reads beyond these wait for one to be free. WAL readers do not
/// block each other, but more of them than cores only share the same CPU; a few more than two
/// cover reads that wait on the disk.
const READERS: usize = 8;

/// The SQLite storage. Cheap to share through an `Arc`.
#[derive(Debug)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
    /// The last stored sequence number, for long polls (also moved by the watcher of other
    /// processes' commits, `foreign.rs`).
    last_seq: Arc<watch::Sender<u64>>,
    /// The long polls waiting, by the buckets they read.
    wakeups: Arc<Wakeups>,
    reads: Arc<ReadCounters>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    /// Idle read connections, opened as needed up to [`READERS`] and kept.
    readers: Mutex<Vec<Connection>>,
    /// A permit per read connection: a read holds one while it runs.
    read_permits: Semaphore,
    /// The connection that reads the accounts version, on the caller's thread (see
    /// [`Storage::accounts_version`] below): opened at the first request.
    version_reader: Mutex<Option<Connection>>,
    /// Read connections in use now, and reads waiting for one (for the metrics).
    reading: AtomicUsize,
    read_waiting: AtomicUsize,
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, StorageError> {
        let path = path.as_ref().to_path_buf();
        let writer = open::open_writer(&path)?;
        let last = oplog::last_seq(&writer)?;
        let writer = writer::Writer::start(writer)
            .map_err(|e| StorageError::Task(format!("cannot start the writer thread: {e}")))?;
        let last_seq = Arc::new(watch::Sender::new(last));
        let wakeups = Arc::default();
        foreign::spawn(path.clone(), &wakeups, &last_seq);
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path,
                writer,
                readers: Mutex::new(vec![]),
                read_permits: Semaphore::new(READERS),
                version_reader: Mutex::new(None),
                reading: AtomicUsize::new(0),
                read_waiting: AtomicUsize::new(0),
            }),
            last_seq,
            wakeups,
            reads: Arc::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits and pushes carried by them so far (group commit, `writer.rs`).
    pub fn group_stats(&self) -> &GroupStats {
        self.inner.writer.stats()
    }

    /// Runs `f` on the writer connection, on the writer thread, after the writes sent before.
    async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.inner.writer.run(f).await
    }

    /// Runs `f` on the writer connection like [`SqliteStorage::write`], for a write that changes
    /// no record (sync statuses, console sessions, the audit): the writer keeps the records it
    /// holds for the pushes ([`writer::Writer::run_beside_records`]).
    async fn write_beside_records<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.inner.writer.run_beside_records(f).await
    }

    /// Runs `f` on a pooled read-only connection, off the async threads, once one is free.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = self.inner.clone();
        self.inner.read_waiting.fetch_add(1, Ordering::Relaxed);
        let permit = {
            let _waited = ReadingGuard(&self.inner.read_waiting);
            self.inner.read_permits.acquire().await
        };
        let _permit = permit.map_err(|e| StorageError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            inner.reading.fetch_add(1, Ordering::Relaxed);
            let _done = ReadingGuard(&inner.reading);
            let taken = lock(&inner.readers).pop();
            let mut conn = match taken {
                Some(c) => c,
                None => open::open_reader(&inner.path)?,
            };
            let out = f(&mut conn);
            lock(&inner.readers).push(conn);
            out
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }
}

/// Counts a read as finished when dropped, whichever way it ends.
struct ReadingGuard<'a>(&'a AtomicUsize);

impl Drop for ReadingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Locks a mutex even if a thread panicked while holding it: an open transaction is rolled
/// back when its guard drops, so the connection is usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Storage for SqliteStorage {
    async fn push(&self, ctx: PushContext, ops: Vec<Op>) -> Result<Vec<PushResult>, StorageError> {
        let pushed = self.inner.writer.push(ctx, ops).await?;
        let last = pushed.last;
        self.last_seq.send_if_modified(|seen| {
            let moved = last > *seen;
            *seen = (*seen).max(last);
            moved
        });
        if !pushed.touched.is_empty() {
            self.wakeups.wake(&pushed.touched, last);
        } else if pushed.results.iter().any(|r| {
            matches!(
                r.outcome,
                gridwork_domain::sync::PushOutcome::Accepted { .. }
            )
        }) {
            // Stored, but filed under no bucket (a record whose place is not resolved yet):
            // only readers of everything can see it.
            self.wakeups.wake(&[], last);
        }
        Ok(pushed.results)
    }

    async fn log_page(
        &self,
        buckets: Option<Vec<Bucket>>,
        after: u64,
        limit: usize,
    ) -> Result<LogPage, StorageError> {
        let reads = self.reads.clone();
        self.read(move |conn| oplog::log_page(conn, buckets.as_deref(), after, limit, &reads))
            .await
    }

    async fn log_end(&self) -> Result<u64, StorageError> {
        self.read(|conn| oplog::last_seq(conn)).await
    }

    /// Every request asks this before its token is trusted (`auth/device_cache.rs`). It is one
    /// row of one page that every request reads, always in SQLite's cache or the file's memory
    /// map, so it is read right here, on a connection of its own held for the few microseconds
    /// of the read, rather than on a pooled reader behind a hop to a blocking thread: the
    /// hop (a thread woken, two context switches) cost many times the read, on every request
    /// (ADR 0048). A revocation committed by any process before the request is still seen.
    async fn accounts_version(&self) -> Result<u64, StorageError> {
        let mut held = lock(&self.inner.version_reader);
        let conn = match held.take() {
            Some(conn) => conn,
            None => open::open_reader(&self.inner.path)?,
        };
        let version = accounts::version(&conn);
        // A connection whose read failed is opened afresh next time.
        if version.is_ok() {
            *held = Some(conn);
        }
        version
    }

    /// A cursor at or below the last position this process saw stored (its own pushes, and
    /// other processes' commits the watcher saw) is in the log: answered without a read.
    async fn cursor_in_log(&self, after: u64) -> Result<u64, StorageError> {
        if after <= *self.last_seq.borrow() {
            return Ok(after);
        }
        Ok(after.min(self.log_end().await?))
    }

    fn wakeups(&self) -> &Arc<Wakeups> {
        &self.wakeups
    }

    fn read_counts(&self) -> ReadCounts {
        self.reads.get()
    }

    async fn ready(&self) -> Result<(), StorageError> {
        // A fresh connection, not a pooled one: a file moved away or unreadable shows here.
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || oplog::last_seq(&open::open_reader(&path)?).map(|_| ()))
            .await
            .map_err(|e| StorageError::Task(e.to_string()))?
    }

    fn pool_status(&self) -> PoolStatus {
        let idle = lock(&self.inner.readers).len();
        let reading = self.inner.reading.load(Ordering::Relaxed);
        let writer = &self.inner.writer;
        PoolStatus {
            open: 1 + idle + reading,
            in_use: usize::from(writer.busy()) + reading,
            max: 1 + READERS,
            waiting: writer.queued() + self.inner.read_waiting.load(Ordering::Relaxed),
        }
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.last_seq.subscribe()
    }

    async fn record_rows(
        &self,
        buckets: Option<Vec<Bucket>>,
        after: Option<Id>,
        limit: usize,
    ) -> Result<RecordRows, StorageError> {
        let reads = self.reads.clone();
        self.read(move |conn| snapshot::rows(conn, buckets.as_deref(), after, limit, &reads))
            .await
    }

    async fn bucket_record_count(&self, buckets: Vec<Bucket>) -> Result<u64, StorageError> {
        self.read(move |conn| snapshot::count(conn, &buckets)).await
    }

    async fn family(&self, root: Id) -> Result<Vec<PlacedRecord>, StorageError> {
        let family = self.read(move |conn| records::family(conn, root)).await?;
        self.reads.record_rows(family.len());
        Ok(family)
    }

    async fn case_events(&self, cases: Vec<Id>) -> Result<Vec<CaseEvent>, StorageError> {
        self.read(move |conn| snapshot::events(conn, &cases)).await
    }

    async fn place_of(&self, id: Id) -> Result<Option<Place>, StorageError> {
        self.read(move |conn| records::load_place(conn, id)).await
    }

    async fn record(&self, id: Id) -> Result<Option<RecordState>, StorageError> {
        self.read(move |conn| records::load(conn, id)).await
    }

    async fn ledger(&self, state: RecordState) -> Result<Ledger, StorageError> {
        self.read(move |conn| records::ledger(conn, &state)).await
    }

    async fn op_scope_key(&self, op_id: Id) -> Result<Option<String>, StorageError> {
        self.read(move |conn| oplog::scope_key_of(conn, op_id))
            .await
    }

    async fn create_user(
        &self,
        name: String,
        role: Role,
        scope: Vec<Id>,
    ) -> Result<User, StorageError> {
        self.write(move |conn| accounts::create_user(conn, name, role, scope))
            .await
    }

    async fn set_user_scope(&self, id: Id, scope: Vec<Id>) -> Result<bool, StorageError> {
        self.write(move |conn| accounts::set_user_scope(conn, id, &scope))
            .await
    }

    async fn user(&self, id: Id) -> Result<Option<User>, StorageError> {
        self.read(move |conn| accounts::user(conn, id)).await
    }

    async fn users(&self) -> Result<Vec<User>, StorageError> {
        self.read(accounts::users).await
    }

    async fn store_enrollment_code(
        &self,
        code_hash: String,
        user: Id,
        expires_ms: u64,
    ) -> Result<(), StorageError> {
        self.write(move |conn| accounts::store_code(conn, &code_hash, user, expires_ms))
            .await
    }

    async fn redeem_enrollment_code(
        &self,
        code_hash: String,
        device: DeviceId,
        device_name: String,
        token_hash: String,
        now_ms: u64,
    ) -> Result<User, EnrollError> {
        self.write(move |conn| {
            accounts::redeem(conn, &code_hash, device, &device_name, &token_hash, now_ms)
        })
        .await
    }

    async fn device_credentials(
        &self,
        device: DeviceId,
    ) -> Result<Option<DeviceCredentials>, StorageError> {
        self.read(move |conn| accounts::credentials(conn, device))
            .await
    }

    async fn revoke_device(&self, device: DeviceId, now_ms: u64) -> Result<bool, StorageError> {
        self.write(move |conn| accounts::revoke(conn, device, now_ms))
            .await
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StorageError> {
        self.read(accounts::list_devices).await
    }
}
