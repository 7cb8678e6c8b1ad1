//! Request and answer bodies of the `/v1` sync protocol. Every answer carries the server's time
//! (`server_time_ms`) so the device can correct its clock.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, Id};
use crate::merge::RecordState;
use crate::op::Op;
use crate::workflow::CaseEvent;

/// The protocol version in every path (`/v1/...`).
pub const PROTOCOL_VERSION: u32 = 1;

/// The most operations one push may carry.
pub const MAX_PUSH_OPS: usize = 500;
/// The most operations one pull page may carry.
pub const MAX_PULL_LIMIT: usize = 1000;
/// The longest a pull may wait for news (`wait`, in seconds).
pub const MAX_PULL_WAIT_S: u64 = 30;
/// The most records one snapshot page may carry.
pub const MAX_SNAPSHOT_LIMIT: usize = 2000;

/// The role a user has; decides what they may see and do (see `docs/scopes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// Manages users, devices and areas.
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Gridworker,
        Role::BuildingHead,
        Role::FireCrew,
        Role::Dispatcher,
        Role::Mediator,
        Role::Admin,
    ];

    /// The stable name used in storage, on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gridworker => "gridworker",
            Role::BuildingHead => "building_head",
            Role::FireCrew => "fire_crew",
            Role::Dispatcher => "dispatcher",
            Role::Mediator => "mediator",
            Role::Admin => "admin",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `POST /v1/enroll`: a device redeems a one-time code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    /// The id the device made for itself.
    pub device_id: DeviceId,
    /// A human label ("张伟's phone").
    #[serde(default)]
    pub device_name: String,
}

/// The answer to an enrollment: the bearer token (shown once; the server keeps only its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub token: String,
    pub user_id: Id,
    pub user_name: String,
    pub role: Role,
    /// The areas (or buildings, for a building head; stations, for a crew) the user is scoped to.
    pub scope: Vec<Id>,
    /// The area path down to each scope entry (see [`UserScope::anchors`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<Vec<Id>>,
    pub server_time_ms: u64,
}

/// `POST /v1/push`: a batch of operations from the device's outbox, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub ops: Vec<Op>,
}

/// Why the server refused an operation. The device quarantines it and shows the reason; it
/// never resends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// A field value failed validation.
    Invalid,
    /// The user's role or scope does not allow it.
    Forbidden,
    /// Stamped too far in the future (the device's clock is wrong).
    ClockAhead,
    /// The operation names a record of another kind, or is inconsistent.
    Malformed,
    /// The operation was made by another device than the one pushing it.
    WrongDevice,
}

#[cfg(test)]
mod reject_code_tests {
    use super::RejectCode;

    #[test]
    fn as_str_is_the_wire_name() {
        for code in [
            RejectCode::Invalid,
            RejectCode::Forbidden,
            RejectCode::ClockAhead,
            RejectCode::Malformed,
            RejectCode::WrongDevice,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().into())
            );
        }
    }
}

impl RejectCode {
    /// The code as it goes over the wire (`clock_ahead`).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Invalid => "invalid",
            RejectCode::Forbidden => "forbidden",
            RejectCode::ClockAhead => "clock_ahead",
            RejectCode::Malformed => "malformed",
            RejectCode::WrongDevice => "wrong_device",
        }
    }
}

/// The server's answer for one pushed operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PushOutcome {
    /// Stored with this sequence number.
    Accepted { seq: u64 },
    /// Already stored earlier (a retried push): nothing changed.
    Duplicate { seq: u64 },
    /// Refused; never stored.
    Rejected { code: RejectCode, message: String },
}

/// One answer per pushed operation, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    pub op_id: Id,
    #[serde(flatten)]
    pub outcome: PushOutcome,
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
    pub server_time_ms: u64,
    /// The server's state, as the device may see it, of every record an operation of this push
    /// was refused on (but for `clock_ahead`, which the device stamps again and resends): the
    /// device puts its copy back to it (and applies its changes still waiting on top). Absent
    /// when nothing was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordState>,
    /// Every event of the cases in `records`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<CaseEvent>,
    /// Records an operation was refused on that the device may not see, or that the server
    /// does not hold (a refused creation): the device purges its copies (never its outbox).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evict: Vec<Id>,
}

/// An operation as stored by the server, with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequencedOp {
    pub seq: u64,
    pub op: Op,
}

/// `GET /v1/pull?after=SEQ&limit=N&wait=S`: the operations visible to the device after its
/// cursor, in sequence order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub ops: Vec<SequencedOp>,
    /// The cursor to ask from next time (the last sequence number looked at, which may be
    /// beyond the last operation sent: operations outside the device's scope are skipped).
    pub next: u64,
    /// More operations wait beyond this page.
    pub more: bool,
    pub server_time_ms: u64,
    /// Records that entered the device's scope in this page (a building moved into its grid,
    /// an alarm dispatched to its station and the alarm's building), in their current state:
    /// absorbed like snapshot records. Absent when nothing entered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordState>,
    /// Every event of the cases in `records`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<CaseEvent>,
    /// Records that left the device's scope: the device purges its copies (never its outbox).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evict: Vec<Id>,
    /// The user's role and scope now. When they differ from what the device holds, an
    /// administrator changed them: the device fetches what the new scope adds (a snapshot
    /// restricted to the new entries) and purges what the new scope no longer covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserScope>,
}

/// A user's role and scope, as enrollment gave them and pulls confirm them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserScope {
    pub role: Role,
    pub scope: Vec<Id>,
    /// The area path down to each scope entry (a building head's building's grid path...).
    /// When one changes (the building moved to another grid), so do the areas and stations
    /// the user sees above their scope, and the device fetches that entry's part again as for
    /// a new scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<Vec<Id>>,
}

/// `GET /v1/snapshot?after=ID&limit=N&scope=ID,ID`: a page of the current state of the
/// device's scope (or of the named entries of it), records ordered by id. The first page fixes `seq`; the device pulls from there once it has
/// every page. Pages taken later may already include newer changes, which the merge rules make
/// harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotResponse {
    /// The sequence number the snapshot is consistent with (at least).
    pub seq: u64,
    pub records: Vec<RecordState>,
    /// Events of the cases in this page.
    pub events: Vec<CaseEvent>,
    /// The id to ask `after` for the next page; `None` on the last page.
    pub next_after: Option<Id>,
    pub server_time_ms: u64,
    /// On the first page (no `after`) of a scoped reader's snapshot: how many records the
    /// pages will bring at most (the entries of the scope's bucket index), for a determinate
    /// progress bar. Absent on later pages, for a reader of the whole installation, and from
    /// servers before it; an older device ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_records: Option<u64>,
}

/// The body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code (`bad_request`, `unauthorized`, `payload_too_large`, ...).
    pub error: String,
    /// What is wrong, for a person.
    pub message: String,
}
