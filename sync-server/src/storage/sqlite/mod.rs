//! The SQLite backend: one file, zero setup, the embedded default.
//!
//! One writer connection (behind a mutex: SQLite has one writer anyway, and a push batch is one
//! immediate transaction on it) and a small pool of read-only connections for pulls, snapshots
//! and token checks, which WAL lets run beside the writer. All SQLite work runs in
//! `tokio::task::spawn_blocking`, so the async runtime's threads never wait on the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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
pub mod foreign;
mod intake;
pub mod open;
mod oplog;
mod records;
mod snapshot;

/// Read connections kept for reuse; more are opened under load and closed after.
const IDLE_READERS: usize = 4;

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
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Read connections in use now (for the metrics).
    reading: AtomicUsize,
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, StorageError> {
        let path = path.as_ref().to_path_buf();
        let writer = open::open_writer(&path)?;
        let last = oplog::last_seq(&writer)?;
        let last_seq = Arc::new(watch::Sender::new(last));
        let wakeups = Arc::default();
        foreign::spawn(path.clone(), &wakeups, &last_seq);
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(vec![]),
                reading: AtomicUsize::new(0),
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

    /// Runs `f` on the writer connection, off the async threads.
    async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| E::from(StorageError::Task(e.to_string())))?
    }

    /// Runs `f` on a pooled read-only connection, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.reading.fetch_add(1, Ordering::Relaxed);
            let _done = ReadingGuard(&inner.reading);
            let taken = lock(&inner.readers).pop();
            let mut conn = match taken {
                Some(c) => c,
                None => open::open_reader(&inner.path)?,
            };
            let out = f(&mut conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
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
        let pushed = self
            .write(move |conn| oplog::push(conn, &ctx, &ops))
            .await?;
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

    async fn accounts_version(&self) -> Result<u64, StorageError> {
        self.read(|conn| accounts::version(conn)).await
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
        let writing = usize::from(self.inner.writer.try_lock().is_err());
        PoolStatus {
            open: 1 + idle + reading,
            in_use: writing + reading,
            max: 1 + IDLE_READERS,
            waiting: 0,
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
