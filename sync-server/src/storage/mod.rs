//! Server storage behind one trait, [`Storage`]: the operation log with its sequence numbers and
//! scope buckets, the materialized state of every record (filed under the same buckets), the
//! case event histories, and the accounts (users, enrollment codes, devices).
//!
//! # Cost in proportion to the asking phone's scope
//! Every stored operation and record is filed under the scope buckets of its place
//! ([`gridwork_domain::scope::filed_under`]); a pull or a snapshot reads only the buckets of the
//! reader's scope through an index ([`Storage::log_page`], [`Storage::record_rows`]), and a push
//! wakes only the long polls registered on the buckets it touched ([`Wakeups`]). A phone with
//! nothing new costs the same in a city of one grid or ten thousand. ADR 0019.
//!
//! # Async, and why
//! Every method returns a `Send` future. The SQLite backend ([`SqliteStorage`]) does its blocking
//! work inside `tokio::task::spawn_blocking`, on its one writer connection or a pooled reader;
//! the PostgreSQL backend ([`PgStorage`], for several server processes on one database) uses
//! the async driver directly. Handlers just `.await`, whichever backend it is.
//!
//! # What a backend must do
//! Backends keep data; they do not decide. What a push stores is decided by one pure planner,
//! [`crate::rules::plan::plan`], which every backend runs over the facts it reads and whose
//! decisions it writes (see [`Storage::push`]); what a reader receives is decided by
//! [`crate::rules::reading`]. Hashing and comparing secrets happens in the provided methods
//! ([`Storage::create_enrollment_code`], [`Storage::enroll`], [`Storage::authenticate`]), so a
//! backend only ever sees hashes. The conformance suite in `tests/server/conformance.rs` runs
//! against every backend.

use std::future::Future;
use std::sync::Arc;

use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::{Bucket, Place, ScopeView};
use gridwork_domain::sync::{PushResult, Role, SequencedOp};
use gridwork_domain::workflow::{CaseEvent, Ledger};
use tokio::sync::watch;

use crate::auth;
use crate::rules::PushContext;
use crate::rules::reading::{self, Fate, PageBuilder};

pub mod blob_refs;
pub mod bucket_scan;
pub mod console;
pub mod error;
pub mod groups;
pub mod intake;
pub mod pool_status;
pub mod postgres;
pub mod read_counts;
pub mod sqlite;
#[cfg(test)]
mod test_ops;
pub mod wakeups;

pub use crate::rules::reading::{PlacedRecord, PullPage, ScopeFilter};
pub use blob_refs::BlobStorage;
pub use console::{ConsoleSession, ConsoleStorage, DeviceStatus};
pub use error::{EnrollError, StorageError};
pub use intake::{AuditStorage, IntakeStorage};
pub use pool_status::PoolStatus;
pub use postgres::PgStorage;
pub use read_counts::{ReadCounters, ReadCounts};
pub use sqlite::SqliteStorage;
pub use wakeups::{Interest, Wakeups};

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
    /// The length of the stored operation's JSON (what it adds to an answer, before gzip).
    pub bytes: usize,
}

/// A page of the operation log: the operations filed under some buckets, or all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// When `more`: the last entry's sequence number. Otherwise the end of the log as the read
    /// saw it (every operation up to it is stored and was looked at), or the cursor asked from
    /// when that is later.
    pub next: u64,
    pub more: bool,
}

/// What one push stored, as a backend reports it: the answers, the end of the log after it,
/// and the buckets its stored operations were filed under (the long polls to wake).
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub results: Vec<PushResult>,
    pub last: u64,
    pub touched: Vec<Bucket>,
}

/// A page of records in id order, read in one transaction with the last sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRows {
    /// The end of the log when the rows were read: the rows include every operation up to it.
    pub seq: u64,
    pub records: Vec<PlacedRecord>,
    /// The length of each record's stored JSON, in the order of `records`.
    pub bytes: Vec<usize>,
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

/// How many records a scoped snapshot page looks at, at most, per record it may return. The
/// buckets it reads hold little but what the reader may see, so this only bounds the rare page
/// of records filed under a reader's bucket that the exact rule then refuses.
pub const SNAPSHOT_SCAN_FACTOR: usize = 20;

/// The most bytes of stored JSON a pull or snapshot page carries (before gzip; a page always
/// carries at least one operation or record, so a page is never empty for its size).
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// The server's storage. See the module doc for the async choice and what backends do.
pub trait Storage:
    intake::IntakeStorage
    + intake::AuditStorage
    + console::ConsoleStorage
    + blob_refs::BlobStorage
    + Send
    + Sync
    + 'static
{
    /// Admits and appends a batch of operations in ONE transaction, answering per operation in
    /// the same order. Each operation, in order (later ones see earlier ones' effects), is
    /// decided by [`crate::rules::plan::plan`] (author, duplicate or another device's id,
    /// admission, place and authorization, the tenant ledger, what moves with it, its buckets) and the backend
    /// writes what it decided: the operation with the next sequence number and its buckets,
    /// the merged record, the case event, every changed place with the record's buckets.
    ///
    /// After commit, the watch from [`Storage::subscribe`] shows the new end of the log and
    /// the long polls registered on the touched buckets are woken ([`Storage::wakeups`]).
    fn push(
        &self,
        ctx: PushContext,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Vec<PushResult>, StorageError>> + Send;

    /// Up to `limit` stored operations after `after`, in order, with their places: those filed
    /// under any of `buckets` (each read through the bucket index), or every operation when
    /// `None`. [`Storage::pull`] decides what a device receives of them.
    fn log_page(
        &self,
        buckets: Option<Vec<Bucket>>,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<LogPage, StorageError>> + Send;

    /// How many rows this storage has read for pulls and snapshots since it opened: the cost
    /// that must follow a phone's scope, not the city (`gridwork-bench city` divides it by the
    /// operations delivered).
    fn read_counts(&self) -> ReadCounts;

    /// The last sequence number stored, as this process last heard (its own pushes and, for
    /// backends shared by several processes, every process's notifications). For tools and
    /// tests; a cursor handed to a device comes from [`Storage::log_end`].
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Whether the storage answers now: a fresh read of the database (`GET /readyz`, for a
    /// load balancer). An error says why not; it carries no request content.
    fn ready(&self) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The database connections now, for the metrics.
    fn pool_status(&self) -> PoolStatus;

    /// The end of the log a reader may read to now: every operation up to it is stored and no
    /// operation will ever be stored at or below it (the cursor of an answer with nothing in
    /// it).
    fn log_end(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// A number that moves whenever a cached token check or user's view may have become wrong:
    /// a device revoked, a user's scope replaced, a scope entry placed anew by a push (any
    /// process). `crate::auth::DeviceCache` reads it on every request.
    fn accounts_version(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// The long polls waiting on this storage's pushes (and, for backends shared by several
    /// processes, on every process's pushes).
    fn wakeups(&self) -> &Arc<Wakeups>;

    /// Up to `limit` records with ids after `after` (from the start when `None`), in id order,
    /// with their places and the end of the log they are consistent with: those filed under any
    /// of `buckets` (through the bucket index), or every record when `None`.
    /// [`Storage::snapshot_page`] decides what a device receives of them.
    fn record_rows(
        &self,
        buckets: Option<Vec<Bucket>>,
        after: Option<Id>,
        limit: usize,
    ) -> impl Future<Output = Result<RecordRows, StorageError>> + Send;

    /// How many records are filed under `buckets` in the bucket index, one count of the index's
    /// entries per bucket (a record under two of a reader's buckets counts twice): the total a
    /// snapshot announces on its first page, so a phone's bootstrap progress is determinate.
    /// Only the index is read (its primary key's range per bucket), never the records.
    fn bucket_record_count(
        &self,
        buckets: Vec<Bucket>,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

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

    /// What the ledger rules ([`crate::rules::check_ledger`]) need to judge `state`, a
    /// household or a stay, from the stored records: the other households of its building,
    /// or the stay's room, tenant and the tenant's stays. [`Storage::push`] gathers the same
    /// inside its transaction before storing a change to a unit or a check-in.
    fn ledger(
        &self,
        state: RecordState,
    ) -> impl Future<Output = Result<Ledger, StorageError>> + Send;

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

    /// Every user, in the order they were created (for the importer, which keys users by name).
    fn users(&self) -> impl Future<Output = Result<Vec<User>, StorageError>> + Send;

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
    /// that left it. Only the reader's buckets are read. See `docs/scopes.md` and
    /// [`crate::rules::reading`].
    fn pull(
        &self,
        after: u64,
        limit: usize,
        filter: ScopeFilter,
    ) -> impl Future<Output = Result<PullPage, StorageError>> + Send {
        async move {
            let log = self.log_page(filter.buckets(), after, limit).await?;
            // A page ends early once it carries MAX_PAGE_BYTES of operations; the cursor then
            // stops at the last one it carries.
            let (mut entries, mut next, mut more) = (log.entries, log.next, log.more);
            let mut bytes = 0;
            if let Some(cut) = entries.iter().position(|e| {
                bytes += e.bytes;
                bytes > MAX_PAGE_BYTES
            }) {
                let cut = cut.max(1);
                if cut < entries.len() {
                    entries.truncate(cut);
                    next = entries.last().map_or(next, |e| e.seq);
                    more = true;
                }
            }
            let view = match filter {
                ScopeFilter::Everything => {
                    return Ok(PullPage {
                        ops: entries
                            .into_iter()
                            .map(|e| SequencedOp {
                                seq: e.seq,
                                op: e.op,
                            })
                            .collect(),
                        next,
                        more,
                        ..PullPage::default()
                    });
                }
                ScopeFilter::Scoped(view) => view,
            };
            let mut page = PageBuilder::new(&view, next, more);
            for entry in entries {
                let fate = reading::fate(&view, entry.place.as_ref(), entry.prior.as_ref());
                // Only a crew sees buildings through the alarms sent to it: for any other
                // reader a case's building needs no lookup here.
                let around = if view.role == Role::FireCrew {
                    reading::case_buildings(fate, entry.place.as_ref(), entry.prior.as_ref())
                } else {
                    reading::CaseBuildings::default()
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
    /// their cases' events, read from the reader's buckets. A scoped reader's page looks at no
    /// more than [`SNAPSHOT_SCAN_FACTOR`] × `limit` records and carries at most
    /// [`MAX_PAGE_BYTES`] of them; `next_after` is the last one looked at.
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
            let buckets = filter.buckets();
            let mut seq = None;
            let mut records = Vec::new();
            let mut cursor = after;
            let mut scanned = 0;
            let mut bytes = 0;
            let mut more = true;
            'pages: while more && records.len() < limit && scanned < budget {
                let rows = self
                    .record_rows(buckets.clone(), cursor, limit - records.len())
                    .await?;
                // The earliest page's sequence number: every later page holds at least as much.
                seq = Some(seq.map_or(rows.seq, |s: u64| s.min(rows.seq)));
                more = rows.more;
                for (row, size) in rows.records.into_iter().zip(rows.bytes) {
                    if !records.is_empty() && bytes + size > MAX_PAGE_BYTES {
                        // Full: the next page starts at this record.
                        more = true;
                        break 'pages;
                    }
                    scanned += 1;
                    cursor = Some(row.state.id);
                    if let Some(state) = reading::admit_record(&filter, row) {
                        bytes += size;
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
