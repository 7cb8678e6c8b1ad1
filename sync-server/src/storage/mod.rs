//! Server storage behind one trait, [`Storage`]: the operation log with its sequence numbers and
//! scope keys, the materialized state of every record, the case event histories, and the
//! accounts (users, enrollment codes, devices).
//!
//! # Async, and why
//! Every method returns a `Send` future. The SQLite backend ([`SqliteStorage`]) does its blocking
//! work inside `tokio::task::spawn_blocking`, on its one writer connection or a pooled reader;
//! the PostgreSQL backend ([`PgStorage`], for several server processes on one database) uses
//! the async driver directly. Handlers just `.await`, whichever backend it is.
//!
//! # What a backend must do
//! Backends keep data; they do not decide. Whether an operation is admitted and what its scope
//! key is are decided by [`crate::rules`], which every backend calls the same way (see
//! [`Storage::push`]). Hashing and comparing secrets happens in the provided methods
//! ([`Storage::create_enrollment_code`], [`Storage::enroll`], [`Storage::authenticate`]), so a
//! backend only ever sees hashes. The conformance suite in `tests/server/conformance.rs` runs
//! against every backend.

use std::future::Future;

use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::{Place, ScopeView};
use gridwork_domain::sync::{PushResult, Role, SequencedOp};
use gridwork_domain::workflow::CaseEvent;
use tokio::sync::watch;

use crate::auth;
use crate::rules::PushContext;
use crate::scoping::Fate;

pub mod error;
pub mod pool_status;
pub mod postgres;
pub mod sqlite;

pub use error::{EnrollError, StorageError};
pub use pool_status::PoolStatus;
pub use postgres::PgStorage;
pub use sqlite::SqliteStorage;

/// A user an admin created: who they are, their role and the ids (areas, buildings or stations)
/// their scope covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Id,
    pub name: String,
    pub role: Role,
    pub scope: Vec<Id>,
}

/// An enrolled device as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub user_id: Id,
    /// The label the device gave itself ("张伟's phone").
    pub name: String,
    pub enrolled_ms: u64,
    /// When it was revoked; a revoked device's token is refused.
    pub revoked_ms: Option<u64>,
}

/// What the server keeps to check a device's token: the hash, and whether it still counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    pub token_hash: String,
    pub revoked: bool,
    pub user: User,
}

/// A device that presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedDevice {
    pub device: DeviceId,
    pub user: User,
}

/// A successful enrollment: the token (only ever returned here) and the user it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub token: String,
    pub user: User,
}

/// Which operations and records a reader may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ScopeFilter {
    /// No filtering: tools, tests and an admin with an empty scope (the whole installation).
    #[default]
    Everything,
    /// What this user may see ([`gridwork_domain::scope::visible`]), with the fields their role
    /// must not hold removed ([`gridwork_domain::scope::redact_record`]).
    Scoped(ScopeView),
}

impl ScopeFilter {
    /// The filter for a user's view: `Everything` for an all-seeing admin.
    pub fn for_view(view: ScopeView) -> ScopeFilter {
        if view.is_everything() {
            ScopeFilter::Everything
        } else {
            ScopeFilter::Scoped(view)
        }
    }
}

/// A page of the operation log as a device sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PullPage {
    /// Operations after the cursor that the device may see, in sequence order.
    pub ops: Vec<SequencedOp>,
    /// Records that entered the device's scope in this page, in their current state.
    pub records: Vec<RecordState>,
    /// Every event of the cases in `records`.
    pub events: Vec<CaseEvent>,
    /// Records that left the device's scope.
    pub evict: Vec<Id>,
    /// The last sequence number looked at (the cursor for the next page), or the cursor asked
    /// from when there was nothing. Operations out of scope are skipped but still move it.
    pub next: u64,
    /// More operations wait beyond `next`.
    pub more: bool,
}

impl PullPage {
    /// Whether the page carries anything for the device (the cursor may move regardless).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.records.is_empty() && self.evict.is_empty()
    }
}

/// One stored operation with where its record sat.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: u64,
    pub op: Op,
    /// The record's place once the operation was applied (for a case event, the case's);
    /// `None` for an operation stored before places were kept.
    pub place: Option<Place>,
    /// The record's place before the operation; `None` when the operation created the record.
    pub prior: Option<Place>,
}

/// A page of the raw operation log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// The last sequence number read, or the cursor asked from when there was nothing.
    pub next: u64,
    pub more: bool,
}

/// A stored record with its current place (`None` only for a record stored before places
/// were kept and never touched since).
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedRecord {
    pub state: RecordState,
    pub place: Option<Place>,
}

/// A page of records in id order, read in one transaction with the last sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRows {
    /// The last stored sequence number when the rows were read.
    pub seq: u64,
    pub records: Vec<PlacedRecord>,
    /// More records follow the last one.
    pub more: bool,
}

/// A page of the current state, records ordered by id.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotPage {
    /// The last sequence number stored when the page was read: the page includes every
    /// operation up to it (and maybe later ones, which merging makes harmless).
    pub seq: u64,
    /// Records (tombstoned ones included, so a device learns of deletes) with ids after the
    /// `after` asked for, that the reader may see.
    pub records: Vec<RecordState>,
    /// Every event of every case in `records`.
    pub events: Vec<CaseEvent>,
    /// The last id looked at when more records follow (records out of scope are skipped but
    /// still move it).
    pub next_after: Option<Id>,
}

/// How many records a scoped snapshot page looks at, at most, per record it may return: a
/// grid's phone paging through a subdistrict skips most rows, and a page must not take long.
pub const SNAPSHOT_SCAN_FACTOR: usize = 20;

/// The server's storage. See the module doc for the async choice and what backends do.
pub trait Storage: Send + Sync + 'static {
    /// Admits and appends a batch of operations in ONE transaction, answering per operation in
    /// the same order. For each operation, in order (later ones see earlier ones' effects):
    /// 1. [`crate::rules::check_author`]; refused → `Rejected`, nothing stored;
    /// 2. an operation id already stored (even earlier in this batch) → `Duplicate` with its
    ///    original sequence number, nothing stored;
    /// 3. [`crate::rules::admit`] against the record's stored state; refused → `Rejected`;
    /// 4. otherwise store the operation with the next sequence number and its scope key
    ///    ([`crate::rules::scope_key`] of the merged state; for a case event, of the case), save
    ///    the merged record (and its scope key), add a case event by union on its id →
    ///    `Accepted`.
    ///
    /// After commit, the watch from [`Storage::subscribe`] shows the new last sequence number.
    fn push(
        &self,
        ctx: PushContext,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Vec<PushResult>, StorageError>> + Send;

    /// Up to `limit` stored operations with sequence numbers after `after`, in order, with
    /// their places. [`Storage::pull`] filters them for a device.
    fn log_page(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<LogPage, StorageError>> + Send;

    /// The last stored sequence number, updated whenever operations are stored (by any server
    /// process sharing the database, for backends that allow several). Long polls wait on it.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Whether the storage answers now: a fresh read of the database (`GET /readyz`, for a
    /// load balancer). An error says why not; it carries no request content.
    fn ready(&self) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The database connections now, for the metrics.
    fn pool_status(&self) -> PoolStatus;

    /// Up to `limit` records with ids after `after` (from the start when `None`), with their
    /// places and the sequence number they are consistent with. [`Storage::snapshot_page`]
    /// filters them for a device.
    fn record_rows(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> impl Future<Output = Result<RecordRows, StorageError>> + Send;

    /// A record and everything hanging from it ([`crate::rules::parent`], transitively: a
    /// building's households, their residents and registrations, its cases and patrol
    /// visits), with their current places. Empty when the record is unknown.
    fn family(
        &self,
        root: Id,
    ) -> impl Future<Output = Result<Vec<PlacedRecord>, StorageError>> + Send;

    /// Every event of these cases, each case's in stamp order.
    fn case_events(
        &self,
        cases: Vec<Id>,
    ) -> impl Future<Output = Result<Vec<CaseEvent>, StorageError>> + Send;

    /// The current place of a record (`None` when unknown or stored before places were kept).
    fn place_of(&self, id: Id) -> impl Future<Output = Result<Option<Place>, StorageError>> + Send;

    /// The stored state of one record (tombstoned included), for checks and tools.
    fn record(
        &self,
        id: Id,
    ) -> impl Future<Output = Result<Option<RecordState>, StorageError>> + Send;

    /// The scope key stored with an operation (`Ok(None)` when unknown or unresolved).
    fn op_scope_key(
        &self,
        op_id: Id,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;

    /// Creates a user with a fresh id.
    fn create_user(
        &self,
        name: String,
        role: Role,
        scope: Vec<Id>,
    ) -> impl Future<Output = Result<User, StorageError>> + Send;

    /// A user by id.
    fn user(&self, id: Id) -> impl Future<Output = Result<Option<User>, StorageError>> + Send;

    /// Replaces a user's scope (a grid redrawn, a building head taking another building). The
    /// user's devices see the change on their next pull: the answer's scope digest changes and
    /// they take a new snapshot. `Ok(false)` when there is no such user.
    fn set_user_scope(
        &self,
        id: Id,
        scope: Vec<Id>,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Stores the hash of an enrollment code for `user`, valid until `expires_ms`.
    fn store_enrollment_code(
        &self,
        code_hash: String,
        user: Id,
        expires_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// In one transaction: checks the code (known, unused, unexpired at `now_ms`), refuses a
    /// device id already enrolled, marks the code used by `device` and stores the device with
    /// `token_hash`. Returns the user the code was made for.
    fn redeem_enrollment_code(
        &self,
        code_hash: String,
        device: DeviceId,
        device_name: String,
        token_hash: String,
        now_ms: u64,
    ) -> impl Future<Output = Result<User, EnrollError>> + Send;

    /// What is needed to check a token claiming to be `device`.
    fn device_credentials(
        &self,
        device: DeviceId,
    ) -> impl Future<Output = Result<Option<DeviceCredentials>, StorageError>> + Send;

    /// Revokes a device: its next request is refused. `Ok(false)` when there is no such
    /// device; revoking twice keeps the first time.
    fn revoke_device(
        &self,
        device: DeviceId,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Every enrolled device, oldest first.
    fn list_devices(&self) -> impl Future<Output = Result<Vec<DeviceInfo>, StorageError>> + Send;

    /// Makes a one-time enrollment code for `user`, valid for
    /// [`auth::ENROLLMENT_CODE_TTL_MS`] from `now_ms`. Only its hash is stored; the code is
    /// returned to be handed to the user.
    fn create_enrollment_code(
        &self,
        user: Id,
        now_ms: u64,
    ) -> impl Future<Output = Result<String, StorageError>> + Send {
        async move {
            if self.user(user).await?.is_none() {
                return Err(StorageError::UnknownUser(user));
            }
            let code = auth::new_enrollment_code();
            let expires = now_ms.saturating_add(auth::ENROLLMENT_CODE_TTL_MS);
            self.store_enrollment_code(auth::hash_enrollment_code(&code), user, expires)
                .await?;
            Ok(code)
        }
    }

    /// Redeems a code for a new device and makes its bearer token.
    fn enroll(
        &self,
        code: String,
        device: DeviceId,
        device_name: String,
        now_ms: u64,
    ) -> impl Future<Output = Result<Enrolled, EnrollError>> + Send {
        async move {
            let token = auth::new_token(device);
            let user = self
                .redeem_enrollment_code(
                    auth::hash_enrollment_code(&code),
                    device,
                    device_name,
                    auth::hash_token(&token),
                    now_ms,
                )
                .await?;
            Ok(Enrolled { token, user })
        }
    }

    /// The device a bearer token belongs to, or `None` when the token is malformed, unknown or
    /// revoked. The hash comparison takes the same time wherever the first difference is.
    fn authenticate(
        &self,
        token: String,
    ) -> impl Future<Output = Result<Option<AuthedDevice>, StorageError>> + Send {
        async move {
            let Some(device) = auth::token_device(&token) else {
                return Ok(None);
            };
            let Some(creds) = self.device_credentials(device).await? else {
                return Ok(None);
            };
            let presented = auth::hash_token(&token);
            if !auth::constant_time_eq(presented.as_bytes(), creds.token_hash.as_bytes())
                || creds.revoked
            {
                return Ok(None);
            }
            Ok(Some(AuthedDevice {
                device,
                user: creds.user,
            }))
        }
    }

    /// The view the scope rules judge `user` by: their role and scope, with the area path down
    /// to each scope entry (an area's own path, a building's grid path, a station's area
    /// path). Entries not stored yet have no path (they still count for buildings and
    /// stations, which the rules match by id).
    fn scope_view(
        &self,
        user: &User,
    ) -> impl Future<Output = Result<ScopeView, StorageError>> + Send {
        async move {
            let mut anchors = Vec::with_capacity(user.scope.len());
            for id in &user.scope {
                if let Some(place) = self.place_of(*id).await?
                    && place.is_resolved()
                {
                    anchors.push(place.areas);
                }
            }
            Ok(ScopeView::new(user.role, user.scope.clone(), anchors))
        }
    }

    /// One stored record with its current place; `None` when unknown.
    fn placed_record(
        &self,
        id: Id,
    ) -> impl Future<Output = Result<Option<PlacedRecord>, StorageError>> + Send {
        async move {
            let Some(state) = self.record(id).await? else {
                return Ok(None);
            };
            let place = self.place_of(id).await?;
            Ok(Some(PlacedRecord { state, place }))
        }
    }

    /// Up to `limit` operations after `after` as the reader of `filter` sees them: operations
    /// in scope (redacted), records that entered the scope (with their cases' events), records
    /// that left it. See `docs/scopes.md` and [`crate::scoping`].
    fn pull(
        &self,
        after: u64,
        limit: usize,
        filter: ScopeFilter,
    ) -> impl Future<Output = Result<PullPage, StorageError>> + Send {
        async move {
            let log = self.log_page(after, limit).await?;
            let view = match filter {
                ScopeFilter::Everything => {
                    return Ok(PullPage {
                        ops: log
                            .entries
                            .into_iter()
                            .map(|e| SequencedOp {
                                seq: e.seq,
                                op: e.op,
                            })
                            .collect(),
                        next: log.next,
                        more: log.more,
                        ..PullPage::default()
                    });
                }
                ScopeFilter::Scoped(view) => view,
            };
            let mut page = crate::scoping::PageBuilder::new(&view, log.next, log.more);
            for entry in log.entries {
                let fate = crate::scoping::fate(&view, entry.place.as_ref(), entry.prior.as_ref());
                // Only a crew sees buildings through the alarms sent to it: for any other
                // reader a case's building needs no lookup here.
                let around = if view.role == Role::FireCrew {
                    crate::scoping::case_buildings(fate, entry.place.as_ref(), entry.prior.as_ref())
                } else {
                    crate::scoping::CaseBuildings::default()
                };
                if let Some(building) = around.offer
                    && let Some(row) = self.placed_record(building).await?
                {
                    page.offer_building(row);
                }
                if let Some(building) = around.left {
                    page.drop_building(building, self.placed_record(building).await?);
                }
                match fate {
                    Fate::Send => page.send(entry.seq, entry.op),
                    Fate::Gain => {
                        let root = entry.op.entity_id;
                        page.send(entry.seq, entry.op);
                        page.gain(self.family(root).await?);
                    }
                    Fate::Evict => {
                        let root = entry.op.entity_id;
                        page.evict(root, self.family(root).await?);
                    }
                    Fate::Skip => {}
                }
            }
            let cases = page.gained_cases();
            let events = if cases.is_empty() {
                vec![]
            } else {
                self.case_events(cases).await?
            };
            Ok(page.finish(events))
        }
    }

    /// Up to `limit` records after `after` that the reader of `filter` may see, redacted, with
    /// their cases' events. A scoped reader's page looks at no more than
    /// [`SNAPSHOT_SCAN_FACTOR`] × `limit` records; `next_after` is the last one looked at.
    fn snapshot_page(
        &self,
        after: Option<Id>,
        limit: usize,
        filter: ScopeFilter,
    ) -> impl Future<Output = Result<SnapshotPage, StorageError>> + Send {
        async move {
            let budget = match &filter {
                ScopeFilter::Everything => limit,
                ScopeFilter::Scoped(_) => limit.saturating_mul(SNAPSHOT_SCAN_FACTOR),
            };
            let mut seq = None;
            let mut records = Vec::new();
            let mut cursor = after;
            let mut scanned = 0;
            let mut more = true;
            while more && records.len() < limit && scanned < budget {
                let rows = self.record_rows(cursor, limit - records.len()).await?;
                // The earliest page's sequence number: every later page holds at least as much.
                seq = Some(seq.map_or(rows.seq, |s: u64| s.min(rows.seq)));
                more = rows.more;
                scanned += rows.records.len();
                if let Some(last) = rows.records.last() {
                    cursor = Some(last.state.id);
                }
                for row in rows.records {
                    if let Some(state) = crate::scoping::admit_record(&filter, row) {
                        records.push(state);
                    }
                }
            }
            let cases: Vec<Id> = records
                .iter()
                .filter(|r| r.kind == EntityKind::Case)
                .map(|r| r.id)
                .collect();
            let events = if cases.is_empty() {
                vec![]
            } else {
                self.case_events(cases).await?
            };
            Ok(SnapshotPage {
                seq: seq.unwrap_or(0),
                records,
                events,
                next_after: if more { cursor } else { None },
            })
        }
    }
}
