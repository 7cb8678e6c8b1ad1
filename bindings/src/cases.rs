//! Cases as the apps see them: their kinds, the lifecycle steps an app records
//! ([`CaseAction`]), a case with its state, deadline and colour ([`CaseView`]), its timeline,
//! alarm arrival figures, patrols, search hits and conflicts.
//!
//! The fieldless enums (`CaseKind`, `Severity`, `DefenceLevel`, `Colour`, `RecordKind`) are the
//! domain's, declared as uniffi remote types (ADR 0050). The records and `CaseAction` are
//! mirrors kept on purpose: ids cross as UUID strings, times as signed ms (the domain's are
//! `u64`, ADR 0032), a case is shown with its fold and deadline flattened into one `CaseView`
//! with an enum state, and a new case (`NewCase`) leaves out what the core fills in.

use gridwork_domain::model as core;
use gridwork_domain::op::EntityKind;
use gridwork_domain::workflow::{self, CaseAction as CoreAction, DefenceLevel as CoreLevel};

use crate::case_codes::{CaseState, CaseStep, state_of, step_of};
use crate::convert::{id, id_text, ms_in, narrow, opt_id, opt_id_text, opt_ms_in, wide};
use crate::error::GridworkError;
use crate::model::Position;

pub type CaseKind = core::CaseKind;

/// What a case is about.
#[uniffi::remote(Enum)]
pub enum CaseKind {
    /// 隐患: a fire or safety hazard.
    Hazard,
    /// 矛盾纠纷: a dispute between neighbours, landlord and tenant…
    Dispute,
    /// 火警: a fire alarm, dispatched to a micro fire station.
    Alarm,
    /// 12345 hotline request.
    Hotline,
    /// Something found on patrol.
    PatrolFinding,
    /// 事件: an event the command centre dispatches on minute-level response times (a 110
    /// non-police event, a dispute at the scene…).
    Incident,
}

pub type Severity = core::Severity;

/// How serious a case is; sets its deadlines.
#[uniffi::remote(Enum)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

pub type DefenceLevel = CoreLevel;

/// The lines of defence a dispute is mediated at, bottom up (四道防线).
#[uniffi::remote(Enum)]
pub enum DefenceLevel {
    MicroGridLeader,
    Gridworker,
    VillageSecretary,
    SubdistrictMediationCentre,
}

pub type Colour = workflow::Colour;

/// A deadline's colour now (红黄绿).
#[uniffi::remote(Enum)]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

pub type RecordKind = EntityKind;

/// What kind of record an id names (search hits, conflicts).
#[uniffi::remote(Enum)]
pub enum RecordKind {
    Area,
    Building,
    Station,
    Household,
    Resident,
    Registration,
    Case,
    Patrol,
    PatrolVisit,
}

/// A step of a case's lifecycle. Which steps a case allows now: `available_actions`.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum CaseAction {
    // 12345 hotline
    Accept,
    ReviewAssign {
        assignee: Option<String>,
        deadline_ms: Option<i64>,
    },
    Handle,
    CompletionReview,
    SendBack {
        reason: String,
    },
    CallBack {
        satisfied: bool,
    },
    Close,
    // fire alarm
    Dispatch {
        station_id: String,
    },
    Acknowledge,
    EnRoute {
        position: Option<Position>,
    },
    Arrive {
        position: Option<Position>,
    },
    Resolve,
    Review,
    // hazard and patrol finding
    Assign {
        assignee: Option<String>,
        deadline_ms: Option<i64>,
    },
    Fix,
    Recheck {
        passed: bool,
    },
    // dispute
    Mediate {
        level: DefenceLevel,
    },
    Escalate {
        to: DefenceLevel,
        reason: String,
    },
    Settle {
        level: DefenceLevel,
        agreement: String,
    },
    NotSettled {
        level: DefenceLevel,
        reason: String,
    },
    // any kind, any state
    Note {
        text: String,
    },
    /// A photo: `attachment` for a photo taken with `take_photo` (its bytes are fetched with
    /// `fetch_attachment`); `uri` only for steps recorded before attachments (an app's own URI).
    Photo {
        uri: Option<String>,
        attachment: Option<crate::photos::Attachment>,
    },
}

impl CaseAction {
    pub(crate) fn to_core(&self) -> Result<CoreAction, GridworkError> {
        Ok(match self.clone() {
            CaseAction::Accept => CoreAction::Accept,
            CaseAction::ReviewAssign {
                assignee,
                deadline_ms,
            } => CoreAction::ReviewAssign {
                assignee: opt_id("action.assignee", assignee.as_deref())?,
                deadline_ms: opt_ms_in("action.deadline_ms", deadline_ms)?,
            },
            CaseAction::Handle => CoreAction::Handle,
            CaseAction::CompletionReview => CoreAction::CompletionReview,
            CaseAction::SendBack { reason } => CoreAction::SendBack { reason },
            CaseAction::CallBack { satisfied } => CoreAction::CallBack { satisfied },
            CaseAction::Close => CoreAction::Close,
            CaseAction::Dispatch { station_id } => CoreAction::Dispatch {
                station_id: id("action.station_id", &station_id)?,
            },
            CaseAction::Acknowledge => CoreAction::Acknowledge,
            CaseAction::EnRoute { position } => CoreAction::EnRoute { position },
            CaseAction::Arrive { position } => CoreAction::Arrive { position },
            CaseAction::Resolve => CoreAction::Resolve,
            CaseAction::Review => CoreAction::Review,
            CaseAction::Assign {
                assignee,
                deadline_ms,
            } => CoreAction::Assign {
                assignee: opt_id("action.assignee", assignee.as_deref())?,
                deadline_ms: opt_ms_in("action.deadline_ms", deadline_ms)?,
            },
            CaseAction::Fix => CoreAction::Fix,
            CaseAction::Recheck { passed } => CoreAction::Recheck { passed },
            CaseAction::Mediate { level } => CoreAction::Mediate { level },
            CaseAction::Escalate { to, reason } => CoreAction::Escalate { to, reason },
            CaseAction::Settle { level, agreement } => CoreAction::Settle { level, agreement },
            CaseAction::NotSettled { level, reason } => CoreAction::NotSettled { level, reason },
            CaseAction::Note { text } => CoreAction::Note { text },
            CaseAction::Photo { uri, attachment } => CoreAction::Photo {
                attachment: attachment
                    .as_ref()
                    .map(crate::photos::Attachment::to_core)
                    .transpose()?
                    .map(Box::new),
                uri,
            },
        })
    }
}

impl From<CoreAction> for CaseAction {
    fn from(a: CoreAction) -> Self {
        match a {
            CoreAction::Accept => CaseAction::Accept,
            CoreAction::ReviewAssign {
                assignee,
                deadline_ms,
            } => CaseAction::ReviewAssign {
                assignee: opt_id_text(assignee),
                deadline_ms: deadline_ms.map(wide),
            },
            CoreAction::Handle => CaseAction::Handle,
            CoreAction::CompletionReview => CaseAction::CompletionReview,
            CoreAction::SendBack { reason } => CaseAction::SendBack { reason },
            CoreAction::CallBack { satisfied } => CaseAction::CallBack { satisfied },
            CoreAction::Close => CaseAction::Close,
            CoreAction::Dispatch { station_id } => CaseAction::Dispatch {
                station_id: id_text(station_id),
            },
            CoreAction::Acknowledge => CaseAction::Acknowledge,
            CoreAction::EnRoute { position } => CaseAction::EnRoute { position },
            CoreAction::Arrive { position } => CaseAction::Arrive { position },
            CoreAction::Resolve => CaseAction::Resolve,
            CoreAction::Review => CaseAction::Review,
            CoreAction::Assign {
                assignee,
                deadline_ms,
            } => CaseAction::Assign {
                assignee: opt_id_text(assignee),
                deadline_ms: deadline_ms.map(wide),
            },
            CoreAction::Fix => CaseAction::Fix,
            CoreAction::Recheck { passed } => CaseAction::Recheck { passed },
            CoreAction::Mediate { level } => CaseAction::Mediate { level },
            CoreAction::Escalate { to, reason } => CaseAction::Escalate { to, reason },
            CoreAction::Settle { level, agreement } => CaseAction::Settle { level, agreement },
            CoreAction::NotSettled { level, reason } => CaseAction::NotSettled { level, reason },
            CoreAction::Note { text } => CaseAction::Note { text },
            CoreAction::Photo { attachment, uri } => CaseAction::Photo {
                uri,
                attachment: attachment.map(|a| (*a).into()),
            },
        }
    }
}

/// A case to open. The case is placed in `area_id` (usually a grid); `opened_at_ms` is now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewCase {
    pub kind: CaseKind,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    pub area_id: String,
    pub building_id: Option<String>,
    pub household_id: Option<String>,
    pub position: Option<Position>,
}

impl NewCase {
    pub(crate) fn to_core(&self) -> Result<core::Case, GridworkError> {
        Ok(core::Case {
            id: uuid::Uuid::nil(),
            kind: self.kind,
            title: self.title.clone(),
            category: self.category.clone(),
            severity: self.severity,
            area_id: id("case.area_id", &self.area_id)?,
            building_id: opt_id("case.building_id", self.building_id.as_deref())?,
            household_id: opt_id("case.household_id", self.household_id.as_deref())?,
            position: self.position,
            opened_at_ms: 0,
            patrol_id: None,
        })
    }
}

/// The next step a case waits for and when it is due.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Deadline {
    /// The awaited step (its code: `"en_route"`, `"fix"`).
    pub step: CaseStep,
    pub started_ms: i64,
    /// The last millisecond at which the step is on time.
    pub due_ms: i64,
}

/// A case as a list or detail screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseView {
    pub id: String,
    pub kind: CaseKind,
    pub title: String,
    pub category: String,
    pub severity: Severity,
    pub area_id: String,
    pub building_id: Option<String>,
    pub household_id: Option<String>,
    pub position: Option<Position>,
    pub opened_at_ms: i64,
    pub patrol_id: Option<String>,
    /// The lifecycle state, for filtering and icons (`caseStateCode` gives its stable code:
    /// `"received"`, `"on_scene"`, `"mediating"`…).
    pub state: CaseState,
    /// The line of defence of a dispute's state (`Mediating`, `Settled`, `NotSettled`).
    pub defence_level: Option<DefenceLevel>,
    /// The state in words, with a dispute's level ("being mediated by the gridworker").
    pub state_label: String,
    pub state_since_ms: i64,
    /// Whether the case has reached its final state.
    pub closed: bool,
    pub assignee: Option<String>,
    pub dispatched_station_id: Option<String>,
    pub arrived_at_ms: Option<i64>,
    /// The deadline that governs the colour now: the awaited step's, or for a fire alarm not
    /// yet reached the crew's arrival target when that is more urgent.
    pub deadline: Option<Deadline>,
    pub colour: Option<Colour>,
    /// A fire not yet out or an incident not yet reached: lists put these first.
    pub live: bool,
    /// Events of this case that could not be applied (recorded concurrently on two devices).
    pub conflicting_events: i32,
}

impl From<gridwork_core::CaseView> for CaseView {
    fn from(v: gridwork_core::CaseView) -> Self {
        let c = v.case;
        let f = v.fold;
        let state = state_of(&f.state);
        CaseView {
            id: id_text(c.id),
            kind: c.kind,
            title: c.title,
            category: c.category,
            severity: c.severity,
            area_id: id_text(c.area_id),
            building_id: opt_id_text(c.building_id),
            household_id: opt_id_text(c.household_id),
            position: c.position,
            opened_at_ms: wide(c.opened_at_ms),
            patrol_id: opt_id_text(c.patrol_id),
            state: state.0,
            defence_level: state.1,
            state_label: f.state.words(),
            state_since_ms: wide(f.state_since_ms),
            closed: f.closed_at_ms.is_some(),
            assignee: opt_id_text(f.assignee),
            dispatched_station_id: opt_id_text(f.dispatched_station),
            arrived_at_ms: f.arrived_at_ms.map(wide),
            deadline: v.deadline.map(|d| Deadline {
                // Every deadline awaits a step of the core's list (see `case_codes`).
                step: step_of(d.step).unwrap_or(CaseStep::Note),
                started_ms: wide(d.started_ms),
                due_ms: wide(d.due_ms),
            }),
            colour: v.colour,
            live: v.live,
            conflicting_events: narrow(f.flagged.len()),
        }
    }
}

/// One event of a case's timeline, oldest first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseEvent {
    pub id: String,
    pub case_id: String,
    /// When it was recorded, by the recording device's clock (ms since the epoch).
    pub at_ms: i64,
    /// Who recorded it (the enrolled user of that device).
    pub actor: Option<String>,
    /// The step, with what it carries (the line of defence, the reason, the agreement, the
    /// assignee, the position, the resident's satisfaction).
    pub action: CaseAction,
    /// The step as the users name it (签收, 到达现场, 升级, 化解…).
    pub label: String,
    /// The state the step led to; `null` when it was not applied.
    pub state_after: Option<CaseState>,
    /// The line of defence of that state, for a dispute's.
    pub defence_level_after: Option<DefenceLevel>,
    /// Why the event could not be applied, when it conflicts with another device's.
    pub conflict: Option<String>,
}

impl From<gridwork_core::TimelineEntry> for CaseEvent {
    fn from(t: gridwork_core::TimelineEntry) -> Self {
        let e = t.event;
        CaseEvent {
            id: id_text(e.id),
            case_id: id_text(e.case_id),
            at_ms: wide(e.stamp.hlc.physical_ms()),
            actor: opt_id_text(e.actor),
            label: e.action.label_zh().to_string(),
            action: e.action.into(),
            state_after: t.state.as_ref().map(|s| state_of(s).0),
            defence_level_after: t.state.as_ref().and_then(|s| state_of(s).1),
            conflict: t.flagged,
        }
    }
}

/// How long the crew took to reach an alarm.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ArrivalFigure {
    pub minutes: f64,
    /// Within the target (the target exactly counts as within).
    pub within_target: bool,
    /// The arrival target in minutes of the response policy in force when the alarm was raised
    /// (5 under 1-3-10).
    pub target_minutes: f64,
    pub station_id: Option<String>,
}

impl From<gridwork_core::ArrivalFigure> for ArrivalFigure {
    fn from(a: gridwork_core::ArrivalFigure) -> Self {
        ArrivalFigure {
            minutes: a.minutes,
            within_target: a.within_target,
            target_minutes: a.target_minutes,
            station_id: opt_id_text(a.station_id),
        }
    }
}

/// A subdistrict's response policy (响应时限): minutes to receive, respond to and reach the
/// events the command centre dispatches, and the fire crew's arrival target. All in ms.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResponsePolicy {
    /// `1-3-10`, `wulin-1-5-30`, or the subdistrict's own name.
    pub name: String,
    pub receive_ms: i64,
    pub respond_ms: i64,
    pub on_scene_ms: i64,
    pub report_back_ms: Option<i64>,
    pub fire_arrival_target_ms: i64,
    /// When it took effect (0 for the built-in default); ignored when setting one (it takes
    /// effect when set).
    pub since_ms: i64,
}

impl From<workflow::ResponsePolicy> for ResponsePolicy {
    fn from(p: workflow::ResponsePolicy) -> Self {
        ResponsePolicy {
            name: p.name,
            receive_ms: wide(p.receive_ms),
            respond_ms: wide(p.respond_ms),
            on_scene_ms: wide(p.on_scene_ms),
            report_back_ms: p.report_back_ms.map(wide),
            fire_arrival_target_ms: wide(p.fire_arrival_target_ms),
            since_ms: wide(p.since_ms),
        }
    }
}

impl ResponsePolicy {
    /// The policy the app passed in; negative durations are refused.
    pub(crate) fn to_core(&self) -> Result<workflow::ResponsePolicy, GridworkError> {
        Ok(workflow::ResponsePolicy {
            name: self.name.clone(),
            receive_ms: ms_in("policy.receive_ms", self.receive_ms)?,
            respond_ms: ms_in("policy.respond_ms", self.respond_ms)?,
            on_scene_ms: ms_in("policy.on_scene_ms", self.on_scene_ms)?,
            report_back_ms: opt_ms_in("policy.report_back_ms", self.report_back_ms)?,
            fire_arrival_target_ms: ms_in(
                "policy.fire_arrival_target_ms",
                self.fire_arrival_target_ms,
            )?,
            since_ms: ms_in("policy.since_ms", self.since_ms)?,
        })
    }
}

/// A preset response policy by name: `1-3-10` (the city's) or `wulin` (Wulin's 1/5/30);
/// `null` for another name.
#[uniffi::export]
pub fn response_policy_preset(name: String) -> Option<ResponsePolicy> {
    workflow::ResponsePolicy::preset(name.trim()).map(Into::into)
}

/// A patrol of an area by one user.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Patrol {
    pub id: String,
    pub user_id: String,
    pub area_id: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

impl From<core::Patrol> for Patrol {
    fn from(p: core::Patrol) -> Self {
        Patrol {
            id: id_text(p.id),
            user_id: id_text(p.user_id),
            area_id: id_text(p.area_id),
            started_at_ms: wide(p.started_at_ms),
            ended_at_ms: p.ended_at_ms.map(wide),
        }
    }
}

/// A building checked on a patrol.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PatrolVisit {
    pub id: String,
    pub patrol_id: String,
    pub building_id: String,
    pub at_ms: i64,
    pub position: Option<Position>,
    pub note: Option<String>,
}

impl From<core::PatrolVisit> for PatrolVisit {
    fn from(v: core::PatrolVisit) -> Self {
        PatrolVisit {
            id: id_text(v.id),
            patrol_id: id_text(v.patrol_id),
            building_id: id_text(v.building_id),
            at_ms: wide(v.at_ms),
            position: v.position,
            note: v.note,
        }
    }
}

/// A patrol with its visits and findings.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PatrolSummary {
    pub patrol: Patrol,
    pub visits: Vec<PatrolVisit>,
    pub buildings_visited: i32,
    pub findings: Vec<CaseView>,
    pub duration_ms: Option<i64>,
}

impl From<gridwork_core::PatrolSummary> for PatrolSummary {
    fn from(s: gridwork_core::PatrolSummary) -> Self {
        PatrolSummary {
            patrol: s.patrol.into(),
            visits: s.visits.into_iter().map(Into::into).collect(),
            buildings_visited: narrow(s.buildings_visited),
            findings: s.findings.into_iter().map(Into::into).collect(),
            duration_ms: s.duration_ms.map(wide),
        }
    }
}

/// One search result: a building, household, resident or case, with the text to show.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SearchHit {
    pub kind: RecordKind,
    pub id: String,
    pub text: String,
}

impl From<gridwork_core::SearchHit> for SearchHit {
    fn from(h: gridwork_core::SearchHit) -> Self {
        SearchHit {
            kind: h.kind,
            id: id_text(h.id),
            text: h.text,
        }
    }
}

/// A value this device wrote that lost to a concurrent write on another device. Values are
/// JSON text (`"13800000000"`, `"rental"`, `null`), as a field can hold any type.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FieldConflict {
    pub id: String,
    pub record_kind: RecordKind,
    pub record_id: String,
    pub field: String,
    pub lost_value_json: String,
    pub won_value_json: String,
    pub detected_ms: i64,
}

impl From<gridwork_core::FieldConflict> for FieldConflict {
    fn from(c: gridwork_core::FieldConflict) -> Self {
        FieldConflict {
            id: id_text(c.id),
            record_kind: c.entity,
            record_id: id_text(c.entity_id),
            field: c.field,
            lost_value_json: c.lost_value.to_string(),
            won_value_json: c.won_value.to_string(),
            detected_ms: wide(c.detected_ms),
        }
    }
}

/// A case event that could not be applied because another device's came first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseEventConflict {
    pub case_id: String,
    pub event_id: String,
    pub reason: String,
}

impl From<gridwork_core::CaseEventConflict> for CaseEventConflict {
    fn from(c: gridwork_core::CaseEventConflict) -> Self {
        CaseEventConflict {
            case_id: id_text(c.case_id),
            event_id: id_text(c.event_id),
            reason: c.reason,
        }
    }
}
