//! [`GridworkError`]: the one error the apps see, and the one place the core's errors are
//! mapped to it.
//!
//! The core's errors are rich and typed for Rust callers; an app needs a small set of cases it
//! can branch on (show the field, ask to enroll again, wait for the network) and a message it can
//! show. Messages never carry personal data: the core's messages are written without echoing
//! values (a decoding error keeps only its category and position, see `gridwork_core::error`),
//! and SQLite's are reduced to the result code here.

use std::collections::HashMap;

use gridwork_core::{SyncError, TransportError};

use crate::permission::{denial_code, transition_code};

/// Why a call into gridwork failed. Every variant has fields (a `reason` at least) because the
/// generated Kotlin and Swift build an exception's message from its fields.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum GridworkError {
    /// A value was refused. `field` names it (e.g. `resident.id_number`); `reason` says what to
    /// fix, without echoing the value.
    #[error("invalid input: {field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// The step or change is not allowed: the case's lifecycle does not allow it in its current
    /// state, or the user's role or scope does not (the same rule the server enforces; nothing
    /// was written or queued). `code` says which, stable for the app to put in its words: a
    /// permission rule's (`outside_reach`, `command_centre_only`… as `Permission.code`) or a
    /// lifecycle's (`step_wrong_state`, `step_already_done`…); `args` its parts, each a stable
    /// code (`role`, `kind`, `step`, `state`, `level`…). `reason` is the English sentence, for
    /// logs and support (ADR 0046).
    #[error("not allowed: {reason}")]
    NotAllowed {
        code: String,
        args: HashMap<String, String>,
        reason: String,
    },
    /// No live record of that kind with that id on this device.
    #[error("no {kind} with id {id} on this device")]
    NotFound { kind: String, id: String },
    /// The device has not been enrolled yet: call `enroll` with a one-time code.
    #[error("{reason}")]
    NotEnrolled { reason: String },
    /// The server could not be reached; changes stay queued and are sent on the next sync.
    #[error("the server could not be reached: {reason}")]
    Offline { reason: String },
    /// The server refused the device's credentials (revoked, or the code was used or expired).
    #[error("the server refused this device: {reason}")]
    Unauthorized { reason: String },
    /// The server answered with an error.
    #[error("the server answered {status}: {reason}")]
    Server { status: i32, reason: String },
    /// The store could not be read or written (disk full, newer app's database).
    #[error("storage error: {reason}")]
    Storage { reason: String },
    /// The store's file is damaged: call `recoverStore` / `recover_store`, which keeps the
    /// unsynced changes it can still read and never deletes the damaged file.
    #[error("{reason}")]
    StoreDamaged { reason: String },
    /// The key does not open the store ("wrong key or not a gridwork database"), or a key was
    /// given for an unencrypted store, or none for an encrypted one.
    #[error("{reason}")]
    WrongKey { reason: String },
    /// Another client (of this app or another process) has this store open: one client per
    /// store file. Shut the other down (or close it) first.
    #[error("{reason}")]
    StoreInUse { reason: String },
    /// This client was shut down (`shutdown()`), or the call was stopped by it.
    #[error("{reason}")]
    Closed { reason: String },
    /// Anything else; the reason is safe to show and to log.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl GridworkError {
    /// A refusal of a value the app passed across the boundary (an id that is not a UUID, a date
    /// that is not `YYYY-MM-DD`).
    pub(crate) fn invalid(field: &str, reason: &str) -> GridworkError {
        GridworkError::InvalidInput {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl From<gridwork_core::Error> for GridworkError {
    fn from(error: gridwork_core::Error) -> Self {
        use gridwork_core::Error as Core;
        match error {
            Core::Invalid(v) => GridworkError::InvalidInput {
                field: v.field,
                reason: v.problem,
            },
            Core::Transition(t) => {
                let (code, args) = transition_code(&t);
                GridworkError::NotAllowed {
                    code,
                    args,
                    reason: t.to_string(),
                }
            }
            Core::NotAllowed(reason) => {
                let (code, args) = denial_code(&reason);
                GridworkError::NotAllowed { code, args, reason }
            }
            Core::NotFound { kind, id } => GridworkError::NotFound {
                kind: kind.to_string(),
                id,
            },
            e @ Core::NewerSchema { .. } => GridworkError::Storage {
                reason: e.to_string(),
            },
            // The core's messages describe structure ("device id is not a uuid"), never stored
            // values (see gridwork_core::error).
            e @ Core::StoreDamaged(_) => GridworkError::StoreDamaged {
                reason: e.to_string(),
            },
            e @ (Core::WrongKey | Core::KeyRequired | Core::NotEncrypted) => {
                GridworkError::WrongKey {
                    reason: e.to_string(),
                }
            }
            e @ Core::Attachment(_) => GridworkError::Storage {
                reason: e.to_string(),
            },
            e @ Core::File { .. } => GridworkError::Storage {
                reason: e.to_string(),
            },
            e @ Core::Clock(_) => GridworkError::Internal {
                reason: e.to_string(),
            },
            // The core keeps only the category and position of a decoding failure.
            e @ Core::Decode(_) => GridworkError::Storage {
                reason: e.to_string(),
            },
            // SQLite's messages can quote values from a row; keep the result code only.
            Core::Sqlite(e) => GridworkError::Storage {
                reason: match e.sqlite_error_code() {
                    Some(code) => format!("SQLite failed ({code:?})"),
                    None => "SQLite failed".to_string(),
                },
            },
        }
    }
}

impl From<TransportError> for GridworkError {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::Unreachable(reason) => GridworkError::Offline { reason },
            TransportError::Unauthorized(reason) => GridworkError::Unauthorized { reason },
            TransportError::Server {
                status,
                code,
                message,
            } => GridworkError::Server {
                status: i32::from(status),
                reason: format!("{code}: {message}"),
            },
            TransportError::BadAnswer(reason) => GridworkError::Internal {
                reason: format!("the server's answer could not be read: {reason}"),
            },
            // No answer was trusted, so, to the app, the server was not reached; the reason
            // says why (a certificate refused) for the user and the support desk.
            e @ TransportError::Tls(_) => GridworkError::Offline {
                reason: e.to_string(),
            },
            TransportError::RateLimited {
                retry_after_s,
                message,
            } => GridworkError::Server {
                status: 429,
                reason: format!("rate_limited: {message} (retry after {retry_after_s} s)"),
            },
        }
    }
}

impl From<SyncError> for GridworkError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Transport(t) => t.into(),
            SyncError::Store(e) => e.into(),
            SyncError::NotEnrolled => GridworkError::NotEnrolled {
                reason: "this device is not enrolled yet: enroll it with a one-time code"
                    .to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_do_not_leak_stored_values() {
        let decode = serde_json::from_str::<u64>("\"王芳 11010519491231002X\"").unwrap_err();
        let shown = GridworkError::from(gridwork_core::Error::from(decode)).to_string();
        assert!(!shown.contains("王芳"), "{shown}");
        assert!(!shown.contains("11010519491231002X"), "{shown}");
    }

    #[test]
    fn a_refusal_carries_a_stable_code_and_its_parts() {
        let denied = gridwork_core::Error::NotAllowed(
            "only the command centre may accept a case".to_string(),
        );
        match GridworkError::from(denied) {
            GridworkError::NotAllowed { code, args, reason } => {
                assert_eq!(code, "command_centre_only");
                assert_eq!(args.get("step").map(String::as_str), Some("accept"));
                assert_eq!(reason, "only the command centre may accept a case");
            }
            other => panic!("unexpected {other:?}"),
        }
        use gridwork_domain::model::CaseKind;
        use gridwork_domain::workflow::{CaseState, TransitionError};
        let step = TransitionError::AlreadyDone {
            kind: CaseKind::Hazard,
            state: CaseState::Fixed,
            action: "fix",
        };
        match GridworkError::from(gridwork_core::Error::Transition(step)) {
            GridworkError::NotAllowed { code, args, .. } => {
                assert_eq!(code, "step_already_done");
                assert_eq!(args.get("kind").map(String::as_str), Some("hazard"));
                assert_eq!(args.get("state").map(String::as_str), Some("fixed"));
                assert_eq!(args.get("step").map(String::as_str), Some("fix"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn validation_keeps_the_field_name() {
        let refused = gridwork_domain::validate::ValidationError::new(
            "resident.id_number",
            "the check digit does not match",
        );
        match GridworkError::from(gridwork_core::Error::Invalid(refused)) {
            GridworkError::InvalidInput { field, .. } => assert_eq!(field, "resident.id_number"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
