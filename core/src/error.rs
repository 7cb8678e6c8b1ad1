//! The device core's error type: rich and typed, for Rust callers. The bindings map it to a
//! small public enum in one place.
//!
//! Every message here is safe to show and to log: none carries a stored value. Decoding errors
//! are reduced to their category and position when they are made ([`DecodeError`]), because
//! serde_json quotes the input it choked on, which may be a resident's record; SQLite's
//! messages name tables, columns and constraints, never values.

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
    /// The user's role or scope does not allow the change; the rule's reason, the same the
    /// server would give. Nothing was written or queued.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// No live record of that kind with that id.
    #[error("no {kind} with id {id}")]
    NotFound { kind: &'static str, id: String },
    /// The database was written by a newer version of gridwork.
    #[error(
        "the database has schema version {found}, newer than the {supported} this version of \
         gridwork understands; update the app"
    )]
    NewerSchema { found: i64, supported: i64 },
    /// The store's file is damaged (cut short, pages overwritten, its write-ahead log lost) or
    /// holds data that does not fit its schema. Recover it with
    /// [`crate::recovery::recover_store`]: it moves the file aside and keeps the unsynced
    /// changes it can still read. The text describes structure, never stored values.
    #[error("the store is damaged: {0}; recover it to keep its unsynced changes")]
    StoreDamaged(String),
    /// The key does not open the store: it is a different key, or the file is not a gridwork
    /// store at all (SQLCipher cannot tell the two apart).
    #[error("wrong key or not a gridwork database")]
    WrongKey,
    /// The store is encrypted (or is not a gridwork store) and was opened without a key.
    #[error("the store is encrypted or is not a gridwork database: open it with its key")]
    KeyRequired,
    /// A key was given for a store that is not encrypted.
    #[error("the store is not encrypted: open it without a key")]
    NotEncrypted,
    /// A clock stamp refused (too far in the future) or the clock exhausted.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// A stored record or operation could not be decoded.
    #[error("stored data could not be decoded: {0}")]
    Decode(DecodeError),
    /// SQLite failed.
    #[error("storage error: {0}")]
    Sqlite(rusqlite::Error),
    /// An attachment's file beside the store was refused (changed or cut short on disk, not
    /// the bytes its name says) or cannot be kept (a store without a blob directory). The text
    /// names no stored value.
    #[error("attachment: {0}")]
    Attachment(String),
    /// A file next to the store could not be read, moved or written (recovery, export).
    #[error("{action}: {source}")]
    File {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The error's stable code (`not_found`, `store_damaged`, …): what a catalogue keys its
    /// words by (the terminal device renders `err-` and the code, ADR 0039). The code never
    /// changes with the English wording of [`std::fmt::Display`], which stays for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_input",
            Error::Transition(_) => "not_allowed_now",
            Error::NotAllowed(_) => "not_allowed",
            Error::NotFound { .. } => "not_found",
            Error::NewerSchema { .. } => "newer_schema",
            Error::StoreDamaged(_) => "store_damaged",
            Error::WrongKey => "wrong_key",
            Error::KeyRequired => "key_required",
            Error::NotEncrypted => "not_encrypted",
            Error::Clock(_) => "clock",
            Error::Decode(_) => "decode",
            Error::Sqlite(_) => "storage",
            Error::Attachment(_) => "attachment",
            Error::File { .. } => "file",
        }
    }
}

/// A decoding failure without the input: what kind of failure, and where in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at line {line} column {column}")]
pub struct DecodeError {
    pub kind: &'static str,
    pub line: usize,
    pub column: usize,
}

impl From<&serde_json::Error> for DecodeError {
    fn from(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        DecodeError {
            kind: match e.classify() {
                Category::Io => "read failure",
                Category::Syntax => "malformed JSON",
                Category::Data => "a value of the wrong type or shape",
                Category::Eof => "JSON cut short",
            },
            line: e.line(),
            column: e.column(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Decode(DecodeError::from(&e))
    }
}

impl From<rusqlite::Error> for Error {
    /// A page SQLite finds damaged at any point, not only when opening, is a damaged store.
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                Error::StoreDamaged("SQLite found a damaged page".into())
            }
            Some(rusqlite::ErrorCode::NotADatabase) => {
                Error::StoreDamaged("a page could not be read as part of a database".into())
            }
            _ => Error::Sqlite(e),
        }
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_failure_names_neither_the_name_nor_the_id_number_it_choked_on() {
        let bad = serde_json::from_str::<u64>("\"王芳 11010519491231002X 13800001234\"");
        let shown = Error::from(bad.unwrap_err()).to_string();
        assert!(
            shown.starts_with("stored data could not be decoded"),
            "{shown}"
        );
        for secret in ["王芳", "11010519491231002X", "13800001234"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("line 1"), "{shown}");
    }
}
