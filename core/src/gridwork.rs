//! [`Gridwork`]: the device core's Rust API, the one object the bindings and the CLI wrap.
//!
//! Every user action is one SQLite transaction that writes the state and appends its
//! operation(s) to the outbox. Calls block on SQLite: call them off the UI thread.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gridwork_domain::hlc::{Hlc, HlcClock, Stamp};
use gridwork_domain::ids::{DeviceId, Id};

use crate::new_id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{Area, AreaLevel, Building, Entity};
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::scope::Decision;
use gridwork_domain::validate::{AddressCode, ValidationError, address_code, schema};
use gridwork_domain::workflow::DeadlinePolicy;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::store::checkpoint::Checkpointer;
use crate::store::key::StoreKey;
use crate::store::{meta, open, outbox, records, search_index};
use crate::sync::state::SyncStatus;

/// The source of wall-clock time, in ms since the Unix epoch. Tests substitute a fixed clock.
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> WallClock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    })
}

/// How to open a store.
#[derive(Clone)]
pub struct OpenOptions {
    /// The wall clock (default: the system clock).
    pub clock: WallClock,
    /// The encryption key (default: none, an unencrypted store). A new store opened with a key
    /// is created encrypted; an encrypted store opens only with its key.
    pub key: Option<StoreKey>,
    /// SQLite's page cache in MB (default: 32, see ADR 0016). More helps a store far larger
    /// than the cache (a dispatcher's subdistrict) at the price of as much memory; the
    /// benchmark uses it to show what the default costs (`docs/benchmarks.md`, growth).
    pub cache_mb: Option<u32>,
    /// Where the store keeps its attachments (photos), encrypted (default: beside a file store,
    /// `<file>.blobs/`; an in-memory store keeps none unless given one).
    pub blob_dir: Option<std::path::PathBuf>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            clock: system_clock(),
            key: None,
            cache_mb: None,
            blob_dir: None,
        }
    }
}

/// The largest page cache [`OpenOptions::cache_mb`] accepts.
pub const MAX_CACHE_MB: u32 = 4_096;

/// Refuses a page cache out of range before anything is opened.
fn check_cache(options: &OpenOptions) -> Result<()> {
    match options.cache_mb {
        Some(mb) if !(1..=MAX_CACHE_MB).contains(&mb) => Err(ValidationError::new(
            "cache_mb",
            format!("must be between 1 and {MAX_CACHE_MB} (MB)"),
        )
        .into()),
        _ => Ok(()),
    }
}

/// The store's attachment files and their keys.
fn vault_for(
    conn: &Connection,
    dir: &Path,
    key: Option<&StoreKey>,
) -> Result<crate::attachments::vault::Vault> {
    let secret = crate::attachments::blob_secret(conn, key)?;
    crate::attachments::vault::Vault::open(dir, &secret)
}

fn set_cache(conn: &Connection, options: &OpenOptions) -> Result<()> {
    if let Some(mb) = options.cache_mb {
        conn.pragma_update(None, "cache_size", -(i64::from(mb) * 1024))?;
    }
    Ok(())
}

impl OpenOptions {
    /// The default options with an encryption key.
    pub fn with_key(key: StoreKey) -> OpenOptions {
        OpenOptions {
            key: Some(key),
            ..OpenOptions::default()
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("encrypted", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) conn: Connection,
}

/// One device's store and the actions on it. Thread-safe: one writer connection behind a lock,
/// and reader connections for queries (file stores), which never wait for the writer.
pub struct Gridwork {
    inner: Mutex<Inner>,
    /// The clock, apart from the writer's lock so that `now_ms` never waits for a transaction.
    /// Only a holder of the writer's lock changes it (copy, then store after the commit).
    clock: Mutex<HlcClock>,
    /// Reader connections (file stores; an in-memory store reads on its writer).
    readers: Option<crate::store::readers::Readers>,
    device: DeviceId,
    wall: WallClock,
    policy: Mutex<DeadlinePolicy>,
    pub(crate) sync: SyncStatus,
    /// Copies the write-ahead log into the database off the write path (file stores only).
    checkpointer: Option<Checkpointer>,
    /// Nanoseconds spent in the commits of local edits since the store was opened (writing
    /// their pages to the log), for the benchmarks: [`Gridwork::time_committing_edits`].
    committing_ns: AtomicU64,
    /// The attachment lane: blob files, upload policy and progress (ADR 0042).
    pub(crate) lane: crate::attachments::lane::Lane,
}

impl std::fmt::Debug for Gridwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gridwork")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Gridwork {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Gridwork> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens the store with options (an encryption key, a test clock).
    ///
    /// A damaged store gives [`Error::StoreDamaged`] (recover it with
    /// [`crate::recovery::recover_store`]), a wrong key [`Error::WrongKey`], an encrypted store
    /// opened without a key [`Error::KeyRequired`]; nothing is ever wiped to make it open.
    pub fn open_with(path: impl AsRef<Path>, mut options: OpenOptions) -> Result<Gridwork> {
        check_cache(&options)?;
        let mut conn = open::open_database(path.as_ref(), options.key.as_ref())?;
        // The store's other connections open it as the writer did (its page MAC, ADR 0056).
        options.key = options
            .key
            .as_ref()
            .map(|key| open::opened_key(&conn, key))
            .transpose()?;
        set_cache(&conn, &options)?;
        let checkpointer =
            match Checkpointer::attach(&mut conn, path.as_ref(), options.key.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "no checkpoint thread; SQLite checkpoints inline");
                    None
                }
            };
        let readers = crate::store::readers::Readers::new(
            path.as_ref(),
            options.key.as_ref(),
            options.cache_mb,
        )?;
        let blob_dir = options
            .blob_dir
            .clone()
            .unwrap_or_else(|| crate::attachments::blob_dir_of(path.as_ref()));
        let vault = vault_for(&conn, &blob_dir, options.key.as_ref())?;
        let mut gw = Self::from_connection(conn, options, checkpointer)?;
        gw.readers = Some(readers);
        gw.lane = crate::attachments::lane::Lane::new(Some(vault));
        // Exports made beside the store while it could not be opened (ADR 0030).
        gw.read(|c| {
            crate::access_log::adopt_beside(c, path.as_ref());
            Ok(())
        })?;
        Ok(gw)
    }

    /// A private in-memory store (tests and tools).
    pub fn open_in_memory(options: OpenOptions) -> Result<Gridwork> {
        check_cache(&options)?;
        let conn = open::open_in_memory()?;
        set_cache(&conn, &options)?;
        let vault = match &options.blob_dir {
            Some(dir) => Some(vault_for(&conn, dir, options.key.as_ref())?),
            None => None,
        };
        let mut gw = Self::from_connection(conn, options, None)?;
        gw.lane = crate::attachments::lane::Lane::new(vault);
        Ok(gw)
    }

    fn from_connection(
        conn: Connection,
        options: OpenOptions,
        checkpointer: Option<Checkpointer>,
    ) -> Result<Gridwork> {
        let device = match meta::get(&conn, meta::DEVICE_ID)? {
            Some(d) => d
                .parse()
                .map_err(|_| Error::StoreDamaged("device id is not a uuid".into()))?,
            None => {
                let d = new_id();
                meta::set(&conn, meta::DEVICE_ID, &d.to_string())?;
                d
            }
        };
        // A local edit keeps its stamp only in its outbox row (ADR 0036): the clock starts
        // past both.
        let last = meta::get(&conn, meta::HLC_LAST)?
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Hlc::ZERO, Hlc::from_u64)
            .max(outbox::highest_stamp(&conn)?.unwrap_or(Hlc::ZERO));
        let offset = meta::get(&conn, meta::CLOCK_OFFSET_MS)?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let trusted = meta::get(&conn, meta::HLC_TRUSTED)?
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Hlc::ZERO, Hlc::from_u64);
        crate::store::changes::watch(&conn)?;
        let server_seen = meta::get(&conn, meta::SERVER_TIME_SEEN)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        Ok(Gridwork {
            inner: Mutex::new(Inner { conn }),
            clock: Mutex::new(
                HlcClock::new(last, offset)
                    .with_trusted(trusted)
                    .with_server_seen_ms(server_seen),
            ),
            readers: None,
            device,
            wall: options.clock,
            policy: Mutex::new(DeadlinePolicy::default()),
            sync: SyncStatus::default(),
            checkpointer,
            committing_ns: AtomicU64::new(0),
            lane: crate::attachments::lane::Lane::new(None),
        })
    }

    /// The deadline policy used for colours and urgency (default: the brief's figures).
    pub fn deadline_policy(&self) -> DeadlinePolicy {
        self.policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the device's deadline figures (hotline, hazards, disputes, colours). Alarms and
    /// incidents are timed by their subdistrict's response policy, set by an admin on the
    /// subdistrict's area ([`Gridwork::set_response_policy`]); `responses` here only times the
    /// cases of a subdistrict this device does not hold.
    pub fn set_deadline_policy(&self, policy: DeadlinePolicy) {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    /// The user this device acts for, once enrolled (stamped on case events as the actor).
    pub fn user_id(&self) -> Result<Option<Id>> {
        self.query(user_id_in)
    }

    /// Records the user this device acts for.
    pub fn set_user_id(&self, user: Id) -> Result<()> {
        self.read(|c| meta::set(c, meta::USER_ID, &user.to_string()))
    }

    /// An app setting kept in the store (e.g. the server URL the CLI enrolled with).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.query(|c| meta::get(c, &format!("app.{key}")))
    }

    /// Stores an app setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.read(|c| meta::set(c, &format!("app.{key}"), value))
    }

    /// How the store is encrypted (cipher, version, settings, as JSON), or `None` for an
    /// unencrypted store.
    pub fn cipher_settings(&self) -> Result<Option<String>> {
        self.query(|c| meta::get(c, open::CIPHER_META))
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.device
    }

    /// Wall-clock now, in ms, uncorrected.
    pub fn wall_ms(&self) -> u64 {
        (self.wall)()
    }

    /// Now by the device's clock corrected with the server's offset: what deadlines use.
    pub fn now_ms(&self) -> u64 {
        let wall = self.wall_ms();
        self.clock().corrected_ms(wall)
    }

    /// A copy of the clock (changed only by a holder of the writer's lock, see `clock`).
    pub(crate) fn clock(&self) -> HlcClock {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store_clock(&self, clock: HlcClock) {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back),
        // so a poisoned lock is still safe to use.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one immediate transaction with a fresh stamp; every operation it returns is
    /// applied and appended to the outbox in that same transaction, and the clock is persisted
    /// with it.
    pub(crate) fn commit_local<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, Stamp) -> Result<(Vec<Op>, T)>,
    ) -> Result<T> {
        self.commit_local_then(f, |_, out| Ok(out))
    }

    /// [`Gridwork::commit_local`], then `then` in the same transaction once the operations are
    /// applied: the view a caller returns (a case with its state and deadline) is read on the
    /// writer's connection, whose pages are already in its cache, instead of on a reader,
    /// whose cache every commit empties (each page read again, decrypted and checked: ADR 0054).
    /// `then` only reads, and its failure does not undo the write: the transaction commits and
    /// the error is returned after it, as a read after the commit would have returned it (an
    /// alarm is raised even when its view cannot be built).
    pub(crate) fn commit_local_then<T, U>(
        &self,
        f: impl FnOnce(&Transaction<'_>, Stamp) -> Result<(Vec<Op>, T)>,
        then: impl FnOnce(&Transaction<'_>, T) -> Result<U>,
    ) -> Result<U> {
        let wall = self.wall_ms();
        let inner = self.lock();
        let mut clock = self.clock();
        let hlc = clock.tick(wall)?;
        let stamp = Stamp::new(hlc, self.device);
        let now = clock.corrected_ms(wall);
        let tx = Transaction::new_unchecked(&inner.conn, TransactionBehavior::Immediate)?;
        let (ops, out) = f(&tx, stamp)?;
        for op in &ops {
            // The server's own checks, run first here: the kind's schema, and whether the
            // user's role and scope allow the change. A refused change is never queued.
            schema::check_op(op)?;
            if let Decision::Deny(reason) = crate::permissions::judge_op(&tx, op)? {
                return Err(Error::NotAllowed(reason));
            }
            records::apply_local_op(&tx, op, self.device, now)?;
            outbox::append(&tx, op, now)?;
        }
        // The clock's last stamp is in the outbox row just written; `meta` is written only when
        // no operation carries it (one encrypted page less an edit, ADR 0036).
        if !ops.iter().any(|op| op.stamp.hlc == clock.last()) {
            meta::set(&tx, meta::HLC_LAST, &clock.last().as_u64().to_string())?;
        }
        search_index::catch_up_past(&tx, search_index::LOCAL_CATCH_UP_AT)?;
        let out = then(&tx, out);
        let changed = crate::store::changes::drain(&tx)?;
        let committing = std::time::Instant::now();
        tx.commit()?;
        let spent = u64::try_from(committing.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.committing_ns.fetch_add(spent, Ordering::Relaxed);
        self.store_clock(clock);
        drop(inner);
        self.sync.changed(&changed);
        out
    }

    /// Pages written to the store's log by every commit since it was opened (`None` for an
    /// in-memory store): what a change costs in encrypted pages, for the benchmarks.
    pub fn pages_written(&self) -> Option<u64> {
        self.checkpointer.as_ref().map(Checkpointer::pages_written)
    }

    /// Time spent in the commits of local edits since the store was opened: the part of an
    /// edit that is writing its pages (encrypting, authenticating and appending them to the
    /// log), with any checkpoint the writer runs itself once its log is past
    /// `checkpoint::HARD_PAGES` (as a raw commit pays SQLite's own), for the benchmarks
    /// (`docs/benchmarks.md`, the local edit's ceiling).
    pub fn time_committing_edits(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.committing_ns.load(Ordering::Relaxed))
    }

    /// Tunes the checkpointer for one long write (a bootstrap) or back for a phone's edits
    /// (ADR 0037); an in-memory store has none.
    pub(crate) fn set_bulk_checkpoints(&self, bulk: bool) {
        if let Some(c) = &self.checkpointer {
            c.set_bulk(bulk);
        }
    }

    /// Brings the search index up to date with every write so far (searches do this first;
    /// the app may call it when idle). Returns the records re-indexed.
    pub fn refresh_search(&self) -> Result<usize> {
        let inner = self.lock();
        search_index::catch_up_now(&inner.conn)
    }

    /// Runs `f` in one immediate transaction with the clock (for applying pulled pages: the
    /// clock moves past every remote stamp, and is persisted with the page).
    pub(crate) fn with_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut HlcClock, u64) -> Result<T>,
    ) -> Result<T> {
        let wall = self.wall_ms();
        let inner = self.lock();
        let mut clock = self.clock();
        let tx = Transaction::new_unchecked(&inner.conn, TransactionBehavior::Immediate)?;
        let out = f(&tx, &mut clock, wall)?;
        meta::set(&tx, meta::HLC_LAST, &clock.last().as_u64().to_string())?;
        meta::set(
            &tx,
            meta::HLC_TRUSTED,
            &clock.trusted().as_u64().to_string(),
        )?;
        meta::set(&tx, meta::CLOCK_OFFSET_MS, &clock.offset_ms().to_string())?;
        meta::set(
            &tx,
            meta::SERVER_TIME_SEEN,
            &clock.server_seen_ms().to_string(),
        )?;
        search_index::catch_up_past(&tx, search_index::PULL_CATCH_UP_AT)?;
        let changed = crate::store::changes::drain(&tx)?;
        tx.commit()?;
        self.store_clock(clock);
        drop(inner);
        self.sync.changed(&changed);
        Ok(out)
    }

    /// Runs `f` on the writer's connection outside a transaction (small writes of their own,
    /// and reads that must see the writer's state). Waits for the writer's lock.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let inner = self.lock();
        let out = f(&inner.conn);
        // Writes made here (a purge, a dismissed conflict) are announced like a transaction's.
        let changed = crate::store::changes::drain(&inner.conn);
        drop(inner);
        if let Ok(changed) = changed {
            self.sync.changed(&changed);
        }
        out
    }

    /// Runs a query on a reader connection: never waits for the writer (a sync page, an
    /// import), sees the last committed state. `f` must not write (the reader is `query_only`).
    /// An in-memory store has no readers: the query runs on the writer.
    pub(crate) fn query<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        match &self.readers {
            Some(readers) => readers.with(f),
            None => self.read(f),
        }
    }

    /// Runs `f` on the writer's connection only if no transaction holds it now; `None` when the
    /// writer is busy (housekeeping that may wait for the next call).
    pub(crate) fn try_read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Option<Result<T>> {
        match self.inner.try_lock() {
            Ok(inner) => Some(f(&inner.conn)),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(f(&p.into_inner().conn)),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Creates a record. A nil id is replaced by a fresh UUID v7. Fields are checked and
    /// normalised; references to other records must exist.
    ///
    /// ```
    /// # use gridwork_core::{Gridwork, OpenOptions};
    /// # use gridwork_domain::model::{Area, AreaLevel};
    /// let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
    /// let district = gw.create(Area {
    ///     id: uuid::Uuid::nil(),
    ///     level: AreaLevel::District,
    ///     code: "330106".into(),
    ///     name: "西湖区".into(),
    ///     parent_id: None,
    ///     response_policies: vec![],
    /// }).unwrap();
    /// assert_eq!(gw.get::<Area>(district.id).unwrap().name, "西湖区");
    /// ```
    pub fn create<T: Entity>(&self, value: T) -> Result<T> {
        self.commit_local(|tx, stamp| create_in(tx, stamp, value))
    }

    /// Changes a record: `edit` mutates the current value; only the fields it changed are
    /// written (one field-level operation), each carrying the stamp it overwrote.
    pub fn update<T: Entity>(&self, id: Id, edit: impl FnOnce(&mut T)) -> Result<T> {
        self.commit_local(|tx, stamp| {
            let state = live_state(tx, T::KIND, id)?;
            let mut value: T = state.decode()?;
            edit(&mut value);
            value.set_id(id);
            value.normalize()?;
            let after = to_object(&value)?;
            check_references(tx, T::KIND, &after)?;
            check_codes::<T>(tx, &after, false)?;
            let written: Vec<&str> = after
                .iter()
                .filter(|(k, v)| state.fields.get(*k) != Some(*v))
                .map(|(k, _)| k.as_str())
                .collect();
            crate::workflows::registrations::check_ledger(tx, T::KIND, &after, Some(&written))?;
            let fields: BTreeMap<String, FieldWrite> = after
                .into_iter()
                .filter(|(k, v)| k != "id" && state.fields.get(k) != Some(v))
                .map(|(k, v)| {
                    let base = records::field_stamp(&state, &k);
                    (k, FieldWrite { value: v, base })
                })
                .collect();
            let ops = if fields.is_empty() {
                vec![]
            } else {
                vec![set_op(stamp, T::KIND, id, fields)]
            };
            Ok((ops, value))
        })
    }

    /// Deletes a record (a tombstone). Archive households and residents instead: moving out is
    /// not a delete.
    pub fn delete<T: Entity>(&self, id: Id) -> Result<()> {
        self.commit_local(|tx, stamp| {
            live_state(tx, T::KIND, id)?;
            let op = Op {
                id: new_id(),
                stamp,
                entity: T::KIND,
                entity_id: id,
                body: OpBody::Delete,
            };
            Ok((vec![op], ()))
        })
    }

    /// One live record by id.
    pub fn get<T: Entity>(&self, id: Id) -> Result<T> {
        self.query(|conn| Ok(live_state(conn, T::KIND, id)?.decode()?))
    }

    /// The merged state of a record, deleted or partial ones included (sync and tools).
    pub fn record_state(&self, id: Id) -> Result<Option<RecordState>> {
        self.query(|conn| records::load(conn, id))
    }

    /// The id of every record held on this device (deleted or partial ones included).
    pub fn record_ids(&self) -> Result<Vec<Id>> {
        self.query(records::all_ids)
    }

    /// How many local operations wait to be pushed.
    pub fn pending_count(&self) -> Result<u64> {
        self.query(outbox::pending_count)
    }

    /// Operations the server rejected, with its reasons: quarantined, never resent, shown to
    /// the user so nothing typed disappears silently.
    pub fn rejected_ops(&self) -> Result<Vec<outbox::OutboxEntry>> {
        self.query(outbox::rejected)
    }

    /// Operations waiting to be pushed, oldest first.
    pub fn pending_ops(&self, limit: usize) -> Result<Vec<outbox::OutboxEntry>> {
        self.query(|c| outbox::pending(c, limit))
    }
}

/// The operation that creates `value` (a nil id replaced by a fresh one), after the checks
/// [`Gridwork::create`] documents; for [`Gridwork::commit_local`].
pub(crate) fn create_in<T: Entity>(
    tx: &Transaction<'_>,
    stamp: Stamp,
    mut value: T,
) -> Result<(Vec<Op>, T)> {
    let op = create_op(stamp, &mut value)?;
    if records::load(tx, value.id())?.is_some() {
        return Err(ValidationError::new(
            format!("{}.id", T::KIND.as_str()),
            "a record with this id already exists",
        )
        .into());
    }
    let obj = to_object(&value)?;
    check_references(tx, T::KIND, &obj)?;
    check_codes::<T>(tx, &obj, true)?;
    crate::workflows::registrations::check_ledger(tx, T::KIND, &obj, None)?;
    Ok((vec![op], value))
}

/// The user this device acts for, read on `conn` (the writer inside a transaction).
pub(crate) fn user_id_in(conn: &Connection) -> Result<Option<Id>> {
    Ok(meta::get(conn, meta::USER_ID)?.and_then(|u| u.parse().ok()))
}

/// A record that exists and is not deleted, of the expected kind.
pub(crate) fn live_state(conn: &Connection, kind: EntityKind, id: Id) -> Result<RecordState> {
    match records::load(conn, id)? {
        Some(s) if s.kind == kind && !s.is_deleted() => Ok(s),
        _ => Err(Error::NotFound {
            kind: kind.as_str(),
            id: id.to_string(),
        }),
    }
}

/// The operation creating `value` (a nil id replaced by a fresh one, its fields checked and
/// normalised first): every field written with no base, as a creation is.
pub(crate) fn create_op<T: Entity>(stamp: Stamp, value: &mut T) -> Result<Op> {
    if value.id().is_nil() {
        value.set_id(new_id());
    }
    value.normalize()?;
    let fields = to_object(value)?
        .into_iter()
        .filter(|(k, _)| k != "id")
        .map(|(k, v)| {
            (
                k,
                FieldWrite {
                    value: v,
                    base: None,
                },
            )
        })
        .collect();
    Ok(set_op(stamp, T::KIND, value.id(), fields))
}

pub(crate) fn set_op(
    stamp: Stamp,
    entity: EntityKind,
    entity_id: Id,
    fields: BTreeMap<String, FieldWrite>,
) -> Op {
    Op {
        id: new_id(),
        stamp,
        entity,
        entity_id,
        body: OpBody::Set { fields },
    }
}

fn to_object<T: Entity>(value: &T) -> Result<serde_json::Map<String, Value>> {
    match serde_json::to_value(value)? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::StoreDamaged(format!(
            "{} does not serialize to an object",
            T::KIND.as_str()
        ))),
    }
}

/// The record kind each reference field must point at.
fn reference_kind(field: &str) -> Option<EntityKind> {
    Some(match field {
        "parent_id" | "grid_id" | "micro_grid_id" | "area_id" => EntityKind::Area,
        "building_id" => EntityKind::Building,
        "household_id" => EntityKind::Household,
        "resident_id" => EntityKind::Resident,
        "station_id" => EntityKind::Station,
        "patrol_id" => EntityKind::Patrol,
        _ => return None,
    })
}

/// Every reference in a new or edited record must name a live record of the right kind.
fn check_references(
    conn: &Connection,
    kind: EntityKind,
    obj: &serde_json::Map<String, Value>,
) -> Result<()> {
    for (field, value) in obj {
        let (Some(target), Some(text)) = (reference_kind(field), value.as_str()) else {
            continue;
        };
        let problem = || {
            ValidationError::new(
                format!("{}.{field}", kind.as_str()),
                format!("no {} with this id is on this device", target.as_str()),
            )
        };
        let id: Id = text.parse().map_err(|_| problem())?;
        if !records::is_live(conn, target, id)? {
            return Err(problem().into());
        }
    }
    Ok(())
}

/// Codes must nest: an area's code extends its parent's, a new building's address code lies in
/// its grid, and a grid or micro-grid field must name an area of that level. The address code
/// says where a building was coded; when grids are redrawn the building moves and keeps its code,
/// so an edit of `grid_id` is not held to it.
fn check_codes<T: Entity>(
    conn: &Connection,
    obj: &serde_json::Map<String, Value>,
    creating: bool,
) -> Result<()> {
    let area_of = |field: &str| -> Result<Option<Area>> {
        match obj
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Id>().ok())
        {
            Some(id) => Ok(Some(live_state(conn, EntityKind::Area, id)?.decode()?)),
            None => Ok(None),
        }
    };
    match T::KIND {
        EntityKind::Area => {
            let area: Area = serde_json::from_value(Value::Object(obj.clone()))?;
            if let Some(parent) = area_of("parent_id")? {
                if Some(parent.level) != area.level.parent_level() {
                    return Err(ValidationError::new(
                        "area.parent_id",
                        format!(
                            "a {} must sit in a {}, not a {}",
                            area.level.as_str(),
                            area.level
                                .parent_level()
                                .map_or("nothing", AreaLevel::as_str),
                            parent.level.as_str()
                        ),
                    )
                    .into());
                }
                address_code::check_child_code(
                    "area.code",
                    parent.level,
                    &parent.code,
                    area.level,
                    &area.code,
                )?;
            }
        }
        EntityKind::Building => {
            let b: Building = serde_json::from_value(Value::Object(obj.clone()))?;
            let grid = area_of("grid_id")?
                .ok_or_else(|| ValidationError::new("building.grid_id", "must name a grid"))?;
            if grid.level != AreaLevel::Grid {
                return Err(ValidationError::new("building.grid_id", "must name a grid").into());
            }
            let code = AddressCode::parse("building.address_code", &b.address_code)?;
            if creating && !code.is_in_grid(&grid.code) {
                return Err(ValidationError::new(
                    "building.address_code",
                    "the address code does not lie in the building's grid",
                )
                .into());
            }
            if let Some(micro) = area_of("micro_grid_id")?
                && (micro.level != AreaLevel::MicroGrid || micro.parent_id != Some(grid.id))
            {
                return Err(ValidationError::new(
                    "building.micro_grid_id",
                    "must name a micro-grid of the building's grid",
                )
                .into());
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn a_page_cache_out_of_range_is_refused_before_anything_opens_and_one_in_range_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        for bad in [0, MAX_CACHE_MB + 1] {
            let options = OpenOptions {
                cache_mb: Some(bad),
                ..OpenOptions::default()
            };
            let err = Gridwork::open_with(&path, options.clone()).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{err:?}");
            assert!(!path.exists(), "a refused option created the store");
            assert!(Gridwork::open_in_memory(options).is_err());
        }
        let gw = Gridwork::open_with(
            &path,
            OpenOptions {
                cache_mb: Some(64),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let kib: i64 = gw
            .read(|c| Ok(c.query_row("PRAGMA cache_size", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(kib, -64 * 1024);
    }
}

#[cfg(test)]
mod commit_tests {
    use super::*;
    use gridwork_domain::model::{Area, AreaLevel};

    #[test]
    fn a_view_that_fails_after_a_write_does_not_undo_the_write() {
        let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let district = Area {
            id: uuid::Uuid::nil(),
            level: AreaLevel::District,
            code: "330106".into(),
            name: "西湖区".into(),
            parent_id: None,
            response_policies: vec![],
        };
        let pending = gw.pending_count().unwrap();
        let out: Result<()> = gw.commit_local_then(
            |tx, stamp| create_in(tx, stamp, district),
            |_, _| {
                Err(Error::NotFound {
                    kind: "case",
                    id: "the view".into(),
                })
            },
        );
        assert!(
            matches!(out, Err(Error::NotFound { .. })),
            "the view's error reaches the caller: {out:?}"
        );
        assert_eq!(
            gw.pending_count().unwrap(),
            pending + 1,
            "the write was committed and queued all the same"
        );
        let areas: i64 = gw
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM records WHERE kind = 'area'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(areas, 1);
    }
}
