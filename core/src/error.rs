//! The device core's error type: rich and typed, for Rust callers. The bindings map it to a
//! small public enum in one place.

use gridwork_domain::hlc::ClockError;
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::TransitionError;

/// Everything that can go wrong in the device core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value typed by the user was refused; names the field.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// A case action that its lifecycle does not allow in the case's current state.
    #[error("not allowed now: {0}")]
    Transition(#[from] TransitionError),
    /// No live record of that kind with that id.
    #[error("no {kind} with id {id}")]
    NotFound { kind: &'static str, id: String },
    /// The database was written by a newer version of gridwork.
    #[error(
        "the database has schema version {found}, newer than the {supported} this version of \
         gridwork understands; update the app"
    )]
    NewerSchema { found: i64, supported: i64 },
    /// The file is not a gridwork database, or is damaged.
    #[error("the database is damaged or not a gridwork store: {0}")]
    Corrupt(String),
    /// A clock stamp refused (too far in the future) or the clock exhausted.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// A stored record or operation could not be decoded.
    #[error("stored data could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    /// SQLite failed.
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
