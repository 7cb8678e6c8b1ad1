//! Cases: hazards, disputes, alarms, hotline requests, patrol findings and dispatched
//! incidents, each with an
//! append-only event history whose fold (see [`crate::workflow`]) gives the case's state.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::validate::Position;

/// What kind of case this is; each kind has its own lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// 隐患: fire hazard, e-bike charged indoors, group renting, illegal construction, ...
    Hazard,
    /// 矛盾纠纷
    Dispute,
    /// Fire alarm dispatched to a micro fire station.
    Alarm,
    /// 12345 hotline request.
    Hotline,
    /// Something noticed on patrol that is not (yet) a hazard or dispute.
    PatrolFinding,
    /// 事件: an event the command centre receives and dispatches to its "hands and feet"
    /// (手脚) on minute-level response times (1-3-10): a 110 non-police event (非警务警情), an
    /// event a gridworker reports or another department passes on, a dispute at the scene.
    Incident,
}

impl CaseKind {
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Hazard,
        CaseKind::Dispute,
        CaseKind::Alarm,
        CaseKind::Hotline,
        CaseKind::PatrolFinding,
        CaseKind::Incident,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Hazard => "hazard",
            CaseKind::Dispute => "dispute",
            CaseKind::Alarm => "alarm",
            CaseKind::Hotline => "hotline",
            CaseKind::PatrolFinding => "patrol_finding",
            CaseKind::Incident => "incident",
        }
    }

    /// Timed in minutes by the subdistrict's response policy
    /// ([`crate::workflow::ResponsePolicy`]): the events the command centre dispatches to be
    /// received, responded to and reached within minutes (fire alarms and incidents).
    pub fn is_minute_timed(self) -> bool {
        matches!(self, CaseKind::Alarm | CaseKind::Incident)
    }

    /// Parses [`CaseKind::as_str`].
    pub fn parse(s: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How serious a case is; drives deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A case's fixed facts (set at creation, editable per field). Its state is not stored here:
/// it is folded from the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: Id,
    pub kind: CaseKind,
    pub title: String,
    /// Free category within the kind, e.g. "ebike_indoors", "blocked_exit", "neighbour_noise".
    pub category: String,
    pub severity: Severity,
    /// The area the case belongs to (the building's grid when it has a building).
    pub area_id: Id,
    pub building_id: Option<Id>,
    pub household_id: Option<Id>,
    pub position: Option<Position>,
    /// Milliseconds since the epoch (corrected device time) when the case was opened.
    pub opened_at_ms: u64,
    /// The patrol during which it was found, if any.
    pub patrol_id: Option<Id>,
}
