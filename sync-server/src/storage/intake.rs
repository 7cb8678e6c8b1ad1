//! What the intake API and the audit log keep, behind two traits every backend implements
//! (`sqlite/intake.rs`, `postgres/intake.rs`): service accounts, the work orders they sent,
//! the callbacks owed to them (a durable queue), and the hash-chained audit log. Both are
//! supertraits of [`super::Storage`], so every storage has them. ADR 0025.
//!
//! Backends keep rows; the decisions (what an order becomes, how an entry is hashed, when a
//! callback is retried) are in [`crate::intake`] and [`crate::audit`].

use std::future::Future;

use gridwork_domain::ids::Id;

use super::{StorageError, User};
use crate::audit::{AuditEntry, AuditFact, AuditFilter};

/// Where a service account's callbacks go and the secret that signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTarget {
    pub url: String,
    pub secret: String,
}

/// A system that sends work orders, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its id: the "device" of its token and of the stamps of the operations it makes.
    pub id: Id,
    /// Its user (role dispatcher, scoped to the area it may send into).
    pub user: User,
    pub name: String,
    pub token_hash: String,
    pub callback: Option<CallbackTarget>,
    pub created_ms: u64,
    pub revoked: bool,
}

/// A work order taken in: the source system's id and the case it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeOrder {
    pub account: Id,
    pub source_id: String,
    /// `hotline_12345`, `police_110` or `event`.
    pub kind: String,
    pub case_id: Id,
    pub received_ms: u64,
}

/// A callback to queue: one step of one case, for the account that sent the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub account: Id,
    pub event_id: Id,
    pub case_id: Id,
    /// The JSON body, exactly as it will be signed and sent.
    pub body: String,
}

/// A callback claimed for an attempt, with where it goes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCallback {
    pub id: i64,
    pub account: Id,
    pub event_id: Id,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// `None` when the account has no callback registered any more (the callback is dropped).
    pub target: Option<CallbackTarget>,
}

/// Service accounts, their orders and the callback queue.
pub trait IntakeStorage: Send + Sync + 'static {
    /// Stores a service account for `user` with the hash of its token.
    fn store_service_account(
        &self,
        id: Id,
        user: Id,
        name: String,
        token_hash: String,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// A service account by id, with its user.
    fn service_account(
        &self,
        id: Id,
    ) -> impl Future<Output = Result<Option<ServiceAccount>, StorageError>> + Send;

    /// Every service account, oldest first.
    fn list_service_accounts(
        &self,
    ) -> impl Future<Output = Result<Vec<ServiceAccount>, StorageError>> + Send;

    /// Registers (or with `None` removes) an account's callback. `Ok(false)`: no such account.
    fn set_callback(
        &self,
        account: Id,
        target: Option<CallbackTarget>,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Revokes a service account: its token is refused from the next request.
    fn revoke_service_account(
        &self,
        account: Id,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// The order `account` sent with its own id `source_id`.
    fn intake_order(
        &self,
        account: Id,
        source_id: String,
    ) -> impl Future<Output = Result<Option<IntakeOrder>, StorageError>> + Send;

    /// Records an order; when the account already sent one with that source id, keeps that one
    /// and returns it (two deliveries racing make one row).
    fn insert_intake_order(
        &self,
        order: IntakeOrder,
    ) -> impl Future<Output = Result<IntakeOrder, StorageError>> + Send;

    /// The orders that became these cases.
    fn intake_orders_of_cases(
        &self,
        cases: Vec<Id>,
    ) -> impl Future<Output = Result<Vec<IntakeOrder>, StorageError>> + Send;

    /// The building (not deleted) with this unified address code.
    fn building_by_address_code(
        &self,
        code: String,
    ) -> impl Future<Output = Result<Option<Id>, StorageError>> + Send;

    /// The area (not deleted) with this area code.
    fn area_by_code(
        &self,
        code: String,
    ) -> impl Future<Output = Result<Option<Id>, StorageError>> + Send;

    /// How far the callback scanner has read the operation log.
    fn callback_cursor(&self) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Queues `items` (an item already queued is kept once) and moves the cursor from `from` to
    /// `to`, in one transaction; `Ok(false)` and nothing stored when the cursor is no longer
    /// `from` (another server process scanned the same stretch first).
    fn enqueue_callbacks(
        &self,
        from: u64,
        to: u64,
        items: Vec<NewCallback>,
        now_ms: u64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Claims up to `limit` undelivered callbacks due at `now_ms`: each is not due again before
    /// `now_ms + lease_ms`, so another process does not send it meanwhile.
    fn claim_callbacks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueCallback>, StorageError>> + Send;

    /// Marks a callback delivered.
    fn callback_delivered(
        &self,
        id: i64,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Counts a failed attempt and sets when the next is due (`None`: given up).
    fn callback_failed(
        &self,
        id: i64,
        next_ms: Option<u64>,
        error: String,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// How many callbacks of `account` wait to be delivered, and how many were.
    fn callback_counts(
        &self,
        account: Id,
    ) -> impl Future<Output = Result<(u64, u64), StorageError>> + Send;
}

/// The audit log.
pub trait AuditStorage: Send + Sync + 'static {
    /// Appends `fact` after the last entry (chained to it, in one transaction that no other
    /// append interleaves with). `Ok(None)` when a fact with the same `fact_id` is stored.
    fn append_audit(
        &self,
        fact: AuditFact,
    ) -> impl Future<Output = Result<Option<AuditEntry>, StorageError>> + Send;

    /// Every entry with `seq` after `after`, in order, at most `limit`.
    fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StorageError>> + Send;

    /// The entries `filter` picks, oldest first, at most `filter.limit` (the newest of them).
    fn find_audit(
        &self,
        filter: AuditFilter,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StorageError>> + Send {
        async move {
            let mut out = Vec::new();
            let mut after = 0;
            loop {
                let page = self.audit_entries(after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                out.extend(page.into_iter().filter(|e| filter.matches(e)));
                if filter.limit > 0 && out.len() > filter.limit {
                    out.drain(..out.len() - filter.limit);
                }
            }
            Ok(out)
        }
    }

    /// The whole log in order (for `audit verify`).
    fn all_audit(&self) -> impl Future<Output = Result<Vec<AuditEntry>, StorageError>> + Send {
        async move {
            let mut out: Vec<AuditEntry> = Vec::new();
            loop {
                let after = out.last().map_or(0, |e| e.seq);
                let page = self.audit_entries(after, 1000).await?;
                if page.is_empty() {
                    break;
                }
                out.extend(page);
            }
            Ok(out)
        }
    }
}
