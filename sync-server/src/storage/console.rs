//! What the web console keeps (issue 23, ADR 0026), behind a trait every backend implements
//! (`sqlite/console.rs`, `postgres/console.rs`): each console user's password hash and the
//! signed-in browsers' sessions, and what each phone last reported of its sync (for the list of
//! phones). A supertrait of [`super::Storage`], so every storage has it.
//!
//! Backends keep rows; hashing, checking and expiry are [`crate::console::auth`]'s.

use std::future::Future;

use gridwork_domain::ids::{DeviceId, Id};

use super::StorageError;

/// A signed-in browser as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 (hex) of the session cookie's token; the token itself is never stored.
    pub token_hash: String,
    pub user: Id,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub created_ms: u64,
    /// The last request seen: a session idle longer than the console's limit is refused.
    pub seen_ms: u64,
}

/// What a phone last reported of its sync ([`crate::device_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device: DeviceId,
    /// When the server last served one of its sync requests, by the server's clock.
    pub synced_ms: u64,
    /// The changes its outbox still held then; `None` until it sends a count (older apps do
    /// not).
    pub unsynced: Option<u64>,
}

/// Console passwords and sessions.
pub trait ConsoleStorage: Send + Sync + 'static {
    /// Sets (or replaces) the password hash of `user`; every session of the user ends.
    fn set_console_password(
        &self,
        user: Id,
        hash: String,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The password hash of `user`, `None` when no password was set (not a console user).
    fn console_password(
        &self,
        user: Id,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;

    /// Stores a new session.
    fn insert_console_session(
        &self,
        session: ConsoleSession,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The session with this token hash.
    fn console_session(
        &self,
        token_hash: String,
    ) -> impl Future<Output = Result<Option<ConsoleSession>, StorageError>> + Send;

    /// Moves a session's last-seen time to `now_ms`.
    fn touch_console_session(
        &self,
        token_hash: String,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Ends a session (sign-out, expiry), and every session idle since before `idle_before_ms`.
    fn delete_console_session(
        &self,
        token_hash: String,
        idle_before_ms: u64,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Records phones' sync statuses, one upsert per device: a status older than the stored
    /// one is ignored, and a status without a count keeps the count stored before.
    fn record_device_statuses(
        &self,
        statuses: Vec<DeviceStatus>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Every recorded status.
    fn device_statuses(
        &self,
    ) -> impl Future<Output = Result<Vec<DeviceStatus>, StorageError>> + Send;
}
