//! The PostgreSQL backend: several stateless server processes share one database, the way to
//! outgrow one machine (`docs/deploy.md`, ADR 0015).
//!
//! tokio-postgres is async, so unlike the SQLite backend nothing runs on blocking threads: each
//! call takes a connection from a small pool (deadpool) for the length of one query or one
//! transaction. Pushes from every process run in parallel, locking only the records they touch
//! (`locks.rs`); an operation's sequence number is a log position readers read only below a
//! horizon that no running push can write under (`oplog.rs`), so no reader skips an operation
//! committed late. Each push that stores something NOTIFYs its last position and the buckets it
//! touched, and every process LISTENs (`notify.rs`), so a long poll on one process wakes when a
//! phone of its scope pushes through another, and no other poll does. ADR 0019. Tables are unqualified: a URL
//! with `options=-csearch_path=NAME` puts them in a schema of its own.

use std::sync::Arc;

use deadpool_postgres::{Client, Pool};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::Op;
use gridwork_domain::scope::Place;
use gridwork_domain::sync::{PushResult, Role};
use gridwork_domain::workflow::{CaseEvent, Ledger};
use tokio::sync::watch;

use gridwork_domain::scope::Bucket;

use super::{
    DeviceCredentials, DeviceInfo, EnrollError, LogPage, PlacedRecord, PoolStatus, ReadCounters,
    ReadCounts, RecordRows, Storage, StorageError, User, Wakeups,
};
use crate::rules::PushContext;

mod accounts;
mod blob_refs;
mod console;
pub mod group;
mod intake;
mod locks;
pub mod notify;
pub mod open;
mod oplog;
mod plan_facts;
mod records;
pub mod scratch;
mod snapshot;
mod write_buffer;

pub use open::Target;
pub use scratch::ScratchDatabase;

/// The PostgreSQL storage. Cheap to share through an `Arc`.
#[derive(Debug)]
pub struct PgStorage {
    pool: Pool,
    target: Target,
    /// The last stored sequence number, for long polls; moved by this process's pushes and by
    /// the notifications of every process's pushes.
    last_seq: Arc<watch::Sender<u64>>,
    /// The long polls waiting in this process, woken by the notifications of every process.
    wakeups: Arc<Wakeups>,
    _listener: notify::Listener,
    reads: Arc<ReadCounters>,
    /// Where pushes queue to be committed together (`group.rs`), notifying the NOTIFY channel
    /// of this database's log as this process (a random origin among those notifying).
    committer: group::Committer,
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`),
    /// migrating it if needed, with a pool of [`open::POOL_SIZE`] connections.
    pub async fn connect(url: &str) -> Result<PgStorage, StorageError> {
        PgStorage::connect_with_pool(url, open::POOL_SIZE).await
    }

    /// [`PgStorage::connect`] with a pool of `size` connections at most.
    pub async fn connect_with_pool(url: &str, size: usize) -> Result<PgStorage, StorageError> {
        let target = Target::parse(url)?;
        let pool = open::open_pool(&target, size.max(1)).await?;
        let client = open::get(&pool, &target).await?;
        let schema: String = client
            .query_one("SELECT current_schema()", &[])
            .await?
            .get(0);
        let (last, _) = oplog::end_of_log(&client).await?;
        drop(client);
        let channel = notify::channel(&schema);
        let last_seq = Arc::new(watch::Sender::new(last));
        let wakeups = Arc::new(Wakeups::default());
        let origin = rand::random();
        let listener = notify::spawn(
            target.clone(),
            channel.clone(),
            origin,
            last_seq.clone(),
            wakeups.clone(),
        )
        .await?;
        let committer =
            group::Committer::start(pool.clone(), target.clone(), channel.clone(), origin);
        Ok(PgStorage {
            committer,
            pool,
            target,
            last_seq,
            wakeups,
            _listener: listener,
            reads: Arc::default(),
        })
    }

    /// The server and database, as named in messages (no password).
    pub fn target(&self) -> &str {
        &self.target.name
    }

    /// The schema version of the database (see `migrations/postgres/`).
    pub async fn schema_version(&self) -> Result<i32, StorageError> {
        open::schema_version(&self.client().await?).await
    }

    async fn client(&self) -> Result<Client, StorageError> {
        open::get(&self.pool, &self.target).await
    }
}

impl Storage for PgStorage {
    async fn push(&self, ctx: PushContext, ops: Vec<Op>) -> Result<Vec<PushResult>, StorageError> {
        let pushed = self.committer.push(ctx, ops).await?;
        if pushed.last > 0 {
            // Our own notification will say the same; this wakes local polls without waiting.
            notify::advance(&self.last_seq, pushed.last);
            self.wakeups.wake(&pushed.touched, pushed.last);
        }
        Ok(pushed.results)
    }

    async fn log_page(
        &self,
        buckets: Option<Vec<Bucket>>,
        after: u64,
        limit: usize,
    ) -> Result<LogPage, StorageError> {
        oplog::log_page(
            &self.client().await?,
            buckets.as_deref(),
            after,
            limit,
            &self.reads,
        )
        .await
    }

    async fn log_end(&self) -> Result<u64, StorageError> {
        Ok(oplog::end_of_log(&self.client().await?).await?.0)
    }

    async fn accounts_version(&self) -> Result<u64, StorageError> {
        accounts::version(&self.client().await?).await
    }

    fn wakeups(&self) -> &Arc<Wakeups> {
        &self.wakeups
    }

    fn read_counts(&self) -> ReadCounts {
        self.reads.get()
    }

    async fn ready(&self) -> Result<(), StorageError> {
        oplog::end_of_log(&self.client().await?).await.map(|_| ())
    }

    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            open: status.size,
            in_use: status.size.saturating_sub(status.available),
            max: status.max_size,
            waiting: status.waiting,
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
        snapshot::rows(
            &self.client().await?,
            buckets.as_deref(),
            after,
            limit,
            &self.reads,
        )
        .await
    }

    async fn bucket_record_count(&self, buckets: Vec<Bucket>) -> Result<u64, StorageError> {
        snapshot::count(&self.client().await?, &buckets).await
    }

    async fn family(&self, root: Id) -> Result<Vec<PlacedRecord>, StorageError> {
        let family = records::family(&self.client().await?, root).await?;
        self.reads.record_rows(family.len());
        Ok(family)
    }

    async fn case_events(&self, cases: Vec<Id>) -> Result<Vec<CaseEvent>, StorageError> {
        snapshot::events(&self.client().await?, &cases).await
    }

    async fn place_of(&self, id: Id) -> Result<Option<Place>, StorageError> {
        records::load_place(&self.client().await?, id).await
    }

    async fn record(&self, id: Id) -> Result<Option<RecordState>, StorageError> {
        records::load(&self.client().await?, id).await
    }

    async fn ledger(&self, state: RecordState) -> Result<Ledger, StorageError> {
        plan_facts::PgFacts::ledger(&self.client().await?, &state).await
    }

    async fn op_scope_key(&self, op_id: Id) -> Result<Option<String>, StorageError> {
        oplog::scope_key_of(&self.client().await?, op_id).await
    }

    async fn create_user(
        &self,
        name: String,
        role: Role,
        scope: Vec<Id>,
    ) -> Result<User, StorageError> {
        accounts::create_user(&mut self.client().await?, name, role, scope).await
    }

    async fn set_user_scope(&self, id: Id, scope: Vec<Id>) -> Result<bool, StorageError> {
        accounts::set_user_scope(&mut self.client().await?, id, &scope).await
    }

    async fn user(&self, id: Id) -> Result<Option<User>, StorageError> {
        accounts::user(&self.client().await?, id).await
    }

    async fn users(&self) -> Result<Vec<User>, StorageError> {
        accounts::users(&self.client().await?).await
    }

    async fn store_enrollment_code(
        &self,
        code_hash: String,
        user: Id,
        expires_ms: u64,
    ) -> Result<(), StorageError> {
        accounts::store_code(&self.client().await?, &code_hash, user, expires_ms).await
    }

    async fn redeem_enrollment_code(
        &self,
        code_hash: String,
        device: DeviceId,
        device_name: String,
        token_hash: String,
        now_ms: u64,
    ) -> Result<User, EnrollError> {
        let mut client = self.client().await?;
        accounts::redeem(
            &mut client,
            &code_hash,
            device,
            &device_name,
            &token_hash,
            now_ms,
        )
        .await
    }

    async fn device_credentials(
        &self,
        device: DeviceId,
    ) -> Result<Option<DeviceCredentials>, StorageError> {
        accounts::credentials(&self.client().await?, device).await
    }

    async fn revoke_device(&self, device: DeviceId, now_ms: u64) -> Result<bool, StorageError> {
        accounts::revoke(&mut self.client().await?, device, now_ms).await
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StorageError> {
        accounts::list_devices(&self.client().await?).await
    }
}
