//! Storage errors: what can go wrong keeping data ([`StorageError`]) and the ways an enrollment
//! is refused ([`EnrollError`]). The HTTP layer maps both to statuses in one place
//! (`http/api_error.rs`).

use gridwork_domain::ids::{DeviceId, Id};

/// A storage failure. None of these is caused by a request's content; the HTTP layer answers
/// them with 500/503 and logs them.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's own message is shown (the driver's `Display` says only "db error").
    #[error("database error: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the database URL is not valid: {0}")]
    BadUrl(String),
    /// The PostgreSQL server cannot be reached or has no connection free. `target` names the
    /// server and database, never the password.
    #[error("cannot reach the PostgreSQL database {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error(
        "the database was written by a newer server (schema {found}, this server knows {supported}); update the server"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("no user {0}")]
    UnknownUser(Id),
    #[error("a storage task failed: {0}")]
    Task(String),
}

/// A PostgreSQL error as an operator needs it in a log: the server's severity, code and
/// message when the server refused something, the driver's words otherwise.
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(e: serde_json::Error) -> StorageError {
        StorageError::Corrupt(format!("stored JSON does not decode: {e}"))
    }
}

/// Why an enrollment was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the enrollment code is not known; check it, or ask your admin for a new one")]
    UnknownCode,
    #[error("the enrollment code was already used; ask your admin for a new one")]
    CodeUsed,
    #[error("the enrollment code has expired; ask your admin for a new one")]
    CodeExpired,
    #[error("device {0} is already enrolled; a device enrolls once (make a new device id)")]
    DeviceExists(DeviceId),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
