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
use gridwork_domain::op::Op;
use gridwork_domain::sync::{PushResult, Role, SequencedOp};
use gridwork_domain::workflow::CaseEvent;
use tokio::sync::watch;

use crate::auth;
use crate::rules::PushContext;

pub mod error;
pub mod postgres;
pub mod sqlite;

pub use error::{EnrollError, StorageError};
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

/// Which operations and records a reader may see. Today every device sees everything; the
/// scope issue adds a variant holding the device's area paths, matched against scope keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeFilter {
    /// No filtering.
    #[default]
    Everything,
}

/// A page of the operation log.
#[derive(Debug, Clone, PartialEq)]
pub struct PullPage {
    /// Operations after the cursor, in sequence order.
    pub ops: Vec<SequencedOp>,
    /// The last sequence number looked at (the cursor for the next page), or the cursor asked
    /// from when there was nothing.
    pub next: u64,
    /// More operations wait beyond `next`.
    pub more: bool,
}

/// A page of the current state, records ordered by id.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotPage {
    /// The last sequence number stored when the page was read: the page includes every
    /// operation up to it (and maybe later ones, which merging makes harmless).
    pub seq: u64,
    /// Records (tombstoned ones included, so a device learns of deletes) with ids after the
    /// `after` asked for.
    pub records: Vec<RecordState>,
    /// Every event of every case in `records`.
    pub events: Vec<CaseEvent>,
    /// The last id of this page when more records follow.
    pub next_after: Option<Id>,
}

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

    /// Up to `limit` operations with sequence numbers after `after`, in order.
    fn pull(
        &self,
        after: u64,
        limit: usize,
        filter: ScopeFilter,
    ) -> impl Future<Output = Result<PullPage, StorageError>> + Send;

    /// The last stored sequence number, updated whenever operations are stored (by any server
    /// process sharing the database, for backends that allow several). Long polls wait on it.
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Up to `limit` records with ids after `after` (from the start when `None`), with their
    /// case events and the sequence number the page is consistent with.
    fn snapshot_page(
        &self,
        after: Option<Id>,
        limit: usize,
        filter: ScopeFilter,
    ) -> impl Future<Output = Result<SnapshotPage, StorageError>> + Send;

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
}
