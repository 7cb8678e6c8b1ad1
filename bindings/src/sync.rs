//! Sync as the apps see it: the enrollment result, the observable state, progress and the
//! report of a run. The app follows them with [`crate::observe::SyncObserver`].
//!
//! `Role` is the domain's own enum (a uniffi remote type, ADR 0050). The records are mirrors kept
//! on purpose: ids as UUID strings, counts and times signed (ADR 0032), the sync state and
//! progress as enums, and a refused change's rule as its stable code with its parts (ADR 0046).

use std::collections::HashMap;

use gridwork_domain::sync::Role as CoreRole;

use crate::convert::{id_text, wide};

pub type Role = CoreRole;

/// The role of the enrolled user: decides what they may see and do.
#[uniffi::remote(Enum)]
pub enum Role {
    /// 网格员
    Gridworker,
    /// 楼长
    BuildingHead,
    /// 微型消防站队员
    FireCrew,
    /// 指挥中心调度员
    Dispatcher,
    /// 调解员
    Mediator,
    Admin,
}

/// Who this device acts for, once enrolled.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Enrollment {
    pub user_id: String,
    pub user_name: String,
    pub role: Role,
    /// The areas (buildings for a building head, stations for a crew) the user is scoped to.
    pub scope: Vec<String>,
    pub server_time_ms: i64,
}

impl From<gridwork_domain::sync::EnrollResponse> for Enrollment {
    fn from(r: gridwork_domain::sync::EnrollResponse) -> Self {
        Enrollment {
            user_id: id_text(r.user_id),
            user_name: r.user_name,
            role: r.role,
            scope: r.scope.into_iter().map(id_text).collect(),
            server_time_ms: wide(r.server_time_ms),
        }
    }
}

/// A change the server refused: which record, and why (the rule or the check, never a stored
/// value). Kept on the device, never resent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChange {
    /// The change's own id.
    pub change_id: String,
    /// `household`, `resident`, `case`...
    pub entity_kind: String,
    pub entity_id: String,
    /// The server's code, as [`RefusedChange::code`]: `forbidden`, `invalid`, `malformed`,
    /// `wrong_device` (`rejected` for a reason kept without one).
    pub code: String,
    /// For a `forbidden` change, the permission rule's stable code (as `Permission.code`) when
    /// this library knows the rule; `None` otherwise.
    pub rule: Option<String>,
    /// The rule's parts, each a stable code; empty without a rule.
    pub rule_args: HashMap<String, String>,
    /// The server's code and message in English, e.g. "forbidden: this household is outside
    /// your building(s)"; the app shows its own words for `code` and `rule`.
    pub reason: String,
}

/// The server's code and message of a kept rejection (`code: message`), and the rule a
/// `forbidden` one names: what [`RejectedChange`] and [`RefusedChange`] give the app.
fn rule_of(code: &str, message: &str) -> (Option<String>, HashMap<String, String>) {
    match code {
        "forbidden" => match crate::permission::denial_code(message) {
            (rule, args) if rule != crate::permission::UNKNOWN_RULE => (Some(rule), args),
            _ => (None, HashMap::new()),
        },
        _ => (None, HashMap::new()),
    }
}

impl From<gridwork_core::store::outbox::OutboxEntry> for RejectedChange {
    fn from(entry: gridwork_core::store::outbox::OutboxEntry) -> Self {
        let reason = entry.rejected.unwrap_or_else(|| "rejected".into());
        let (code, message) = reason
            .split_once(": ")
            .map_or(("rejected", ""), |(code, message)| (code, message));
        let (rule, rule_args) = rule_of(code, message);
        RejectedChange {
            change_id: id_text(entry.op.id),
            entity_kind: entry.op.entity.as_str().to_string(),
            entity_id: id_text(entry.op.entity_id),
            code: code.to_string(),
            rule,
            rule_args,
            reason,
        }
    }
}

/// A change of this device's the server refused ([`crate::SyncService::refused_changes`]).
/// The record already shows the server's values again; the user discards the change or makes it
/// again as a new one.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RefusedChange {
    /// The refused change's id: what `discard_refused` and `redo_refused` take.
    pub change_id: String,
    /// `household`, `resident`, `case`...
    pub entity_kind: String,
    pub entity_id: String,
    /// What the change was, without its values: `edit household: unit, phone`,
    /// `case step: fix (整改)`.
    pub change: String,
    /// What the change was as stable names, for the app's own words: the fields it wrote
    /// (`unit`, `phone`; empty for a delete or a case step)…
    pub fields: Vec<String>,
    /// …or the case step it recorded (`caseStepCode`'s names: `fix`), or neither: a delete
    /// (`deleted`).
    pub step: Option<String>,
    /// Whether it deleted the record.
    pub deleted: bool,
    /// The server's code: `forbidden`, `invalid`, `malformed`, `wrong_device`.
    pub code: String,
    /// For a `forbidden` change, the permission rule's stable code (`outside_reach`…, as
    /// `Permission.code`) when this library knows the rule; `None` otherwise.
    pub rule: Option<String>,
    /// The rule's parts, each a stable code (`role`, `kind`, `step`); empty without a rule.
    pub rule_args: HashMap<String, String>,
    /// Why, in English words (never a stored value); the app shows its own words for `code`
    /// and `rule`.
    pub reason: String,
    /// When the change was made, ms since the epoch.
    pub made_at_ms: i64,
}

impl From<gridwork_core::RefusedChange> for RefusedChange {
    fn from(r: gridwork_core::RefusedChange) -> Self {
        let (rule, rule_args) = rule_of(&r.code, &r.message);
        let (fields, step, deleted) = match &r.parts {
            gridwork_core::ChangeParts::Edit { fields } => (fields.clone(), None, false),
            gridwork_core::ChangeParts::Delete => (vec![], None, true),
            gridwork_core::ChangeParts::Step { step } => (vec![], Some(step.to_string()), false),
        };
        RefusedChange {
            fields,
            step,
            deleted,
            rule,
            rule_args,
            change_id: id_text(r.op_id),
            entity_kind: r.kind.as_str().to_string(),
            entity_id: id_text(r.record_id),
            change: r.change,
            code: r.code,
            reason: r.reason,
            made_at_ms: wide(r.made_at_ms),
        }
    }
}

/// The state of sync, for the app's status line.
// A mirror on purpose: an error's message loses any stored value it quotes on the way out.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncState {
    /// Nothing running; everything that could be sent was sent.
    Idle,
    /// A run is under way.
    Syncing,
    /// No network; changes queue and go out on the next sync.
    Offline,
    /// The last run failed for another reason.
    Error { message: String },
}

impl From<gridwork_core::SyncState> for SyncState {
    fn from(s: gridwork_core::SyncState) -> Self {
        match s {
            gridwork_core::SyncState::Idle => SyncState::Idle,
            gridwork_core::SyncState::Syncing => SyncState::Syncing,
            gridwork_core::SyncState::Offline => SyncState::Offline,
            gridwork_core::SyncState::Error { message } => SyncState::Error {
                message: without_stored_values(message),
            },
        }
    }
}

/// The core builds an error state's message from its error's `Display`, where a decoding or
/// SQLite failure may quote stored values; keep only the part before the quote, as the error
/// mapping in `error.rs` does.
fn without_stored_values(message: String) -> String {
    for fixed in ["stored data could not be decoded", "storage error"] {
        if message.starts_with(fixed) {
            return fixed.to_string();
        }
    }
    message
}

pub type SyncStep = gridwork_core::sync::state::SyncStep;

/// The step a long sync is in.
#[uniffi::remote(Enum)]
pub enum SyncStep {
    /// Downloading the current state of the user's scope (a new device).
    Bootstrap,
    /// Sending the changes made on this device.
    Push,
    /// Receiving others' changes.
    Pull,
}

/// Progress of a step: `done` of `total` items when the total is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    pub step: SyncStep,
    pub done: i64,
    pub total: Option<i64>,
}

impl From<&gridwork_core::SyncProgress> for SyncProgress {
    fn from(p: &gridwork_core::SyncProgress) -> Self {
        SyncProgress {
            step: p.step,
            done: wide(p.done),
            total: p.total.map(wide),
        }
    }
}

/// What one sync run (or one live wait) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Changes of this device the server accepted.
    pub pushed: i64,
    /// Changes the server rejected (kept in the refused list, never resent).
    pub rejected: i64,
    /// Records put back to the server's values because a change to them was refused.
    pub reverted: i64,
    /// Records received in a snapshot (a new device).
    pub snapshot_records: i64,
    /// Changes received from others.
    pub pulled: i64,
    /// Records that entered the user's scope (a building moved into their grid, an alarm
    /// dispatched to their station).
    pub gained: i64,
    /// Local copies purged: records that left the user's scope, or tenants past retention.
    /// Unsynced edits are never dropped.
    pub evicted: i64,
    /// Received changes refused locally (stamped too far in the future).
    pub refused: i64,
    /// Changes of this device stamped while its clock was wrong, stamped again and resent.
    pub restamped: i64,
    /// New conflicts: values this device wrote that lost to concurrent writes.
    pub conflicts: i64,
    /// Bytes on the wire, both ways.
    pub bytes: i64,
    pub duration_ms: i64,
}

impl From<gridwork_core::SyncReport> for SyncReport {
    fn from(r: gridwork_core::SyncReport) -> Self {
        SyncReport {
            pushed: wide(r.pushed),
            rejected: wide(r.rejected),
            reverted: wide(r.reverted),
            snapshot_records: wide(r.snapshot_records),
            pulled: wide(r.pulled),
            gained: wide(r.gained),
            evicted: wide(r.evicted),
            refused: wide(r.refused),
            restamped: wide(r.restamped),
            conflicts: wide(r.conflicts),
            bytes: wide(r.bytes),
            duration_ms: wide(r.duration_ms),
        }
    }
}
