//! The case lifecycle: one state machine for every kind of case, and the fold that turns a
//! case's merged event history into its current state.
//!
//! - hotline (12345): received → accepted 签收 → assigned 审核交办 → handled 审核办理 →
//!   completion-reviewed 办结审核 → called back 回访反馈 → closed;
//! - alarm: raised → dispatched → acknowledged → en route → on scene → resolved →
//!   reviewed (closed);
//! - hazard: reported → assigned → fixed → (recheck passed) closed;
//! - dispute: logged → mediating(level) → settled(level) / not settled(level) → closed;
//! - patrol finding: open → resolved → closed, or open → assigned → fixed → (recheck) closed;
//! - incident (事件, dispatched by the command centre): raised → dispatched (`assign` to the
//!   hands and feet) → acknowledged → en route → on scene → resolved → reviewed (closed).
//!
//! Choices beyond the happy paths (each one is tested):
//! - Hotline send-back (退回) undoes the step before the review that refuses it: from
//!   `handled` back to `assigned` (the handling was not good enough, handle it again), from
//!   `completion_reviewed` back to `handled` (the completion review is withdrawn before the
//!   call-back, review it again), and from `called_back` back to `assigned` (the resident was
//!   not satisfied: 重办, handle it again). A call-back records whether the resident was
//!   satisfied but always moves to `called_back`: an unreasonable complaint must not trap a case.
//! - Re-assigning an assigned hotline case or hazard is allowed (the assignee and deadline are
//!   replaced); re-dispatching an alarm that no crew has acknowledged yet is allowed (the
//!   command centre tries the next station). These self-transitions do not restart the clock.
//! - An alarm may go from `acknowledged` straight to `on_scene`: a crew that forgot to press
//!   "en route" has still arrived, and the arrival time is the figure that matters.
//! - A hazard may be fixed straight from `reported` (当场整改, fixed on the spot); it still needs
//!   its recheck. A failed recheck sends it back to `assigned`.
//! - A dispute climbs the lines of defence one at a time (三道防线, in order: the micro-grid
//!   leader, the gridworker, the village secretary, then the subdistrict's mediation centre),
//!   with a reason, from `mediating` or `not_settled`; it is settled (or not) at the level
//!   currently mediating it, never at another. It may start at any line (a gridworker who
//!   logs a dispute mediates it himself).
//! - An incident is dispatched with `assign` (派单 to a responder) and may be dispatched again
//!   until someone acknowledges it, as an alarm is re-dispatched to the next station.
//!
//! The fold sorts the events by (stamp, id) (HLC order), drops duplicate ids, and applies each
//! through [`apply`]. An event that cannot be applied (resolved twice, a step from a state the
//! case is no longer in after a merge) stays in the history and is listed in
//! [`CaseFold::flagged`] with the reason, without changing the state: nothing typed is lost, and
//! every device computes the same state from the same set of events.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::CaseKind;
use crate::validate::Position;
use crate::workflow::case_event::{CaseAction, CaseEvent, DefenceLevel};

/// Where a case is in its lifecycle. The states of all kinds share one enum; [`apply`] decides
/// which belong to which kind. Dispute states carry the line of defence working the dispute.
///
/// Serialised in snake case: plain states as a string (`"on_scene"`), dispute states as an
/// object (`{"mediating":{"level":"gridworker"}}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    // hotline
    /// Came in from the 12345 platform, not yet accepted.
    Received,
    /// 签收
    Accepted,
    /// 审核交办 done: someone must handle it (also: a hazard or finding awaiting its fix).
    Assigned,
    /// 审核办理 done: handled, awaiting completion review.
    Handled,
    /// 办结审核 passed: awaiting the call-back.
    CompletionReviewed,
    /// 回访反馈 done: awaiting closing.
    CalledBack,
    /// Closed (hotline, hazard, dispute, patrol finding).
    Closed,
    // alarm (and incident)
    /// An alarm or incident raised, not yet sent to anyone.
    Raised,
    /// Sent to a micro fire station (an alarm) or a responder (an incident).
    Dispatched,
    /// The crew has received it.
    Acknowledged,
    /// The crew is on its way.
    EnRoute,
    /// The crew is on scene.
    OnScene,
    /// Dealt with (alarm or patrol finding).
    Resolved,
    /// The command centre has reviewed the alarm: closed.
    Reviewed,
    // hazard
    /// Found, not yet assigned.
    Reported,
    /// Reported rectified, awaiting its recheck (also: a patrol finding).
    Fixed,
    // dispute
    /// Recorded, mediation not started.
    Logged,
    /// Being mediated at a line of defence.
    Mediating { level: DefenceLevel },
    /// Settled at a line of defence.
    Settled { level: DefenceLevel },
    /// Mediation at a line of defence failed.
    NotSettled { level: DefenceLevel },
    // patrol finding
    /// Noticed on patrol, nothing done yet.
    Open,
}

impl CaseState {
    /// The stable name of the state, without a dispute's level (e.g. `"mediating"`): what a
    /// store puts in a column to filter on. [`fmt::Display`] adds the level.
    pub fn as_str(&self) -> &'static str {
        match self {
            CaseState::Received => "received",
            CaseState::Accepted => "accepted",
            CaseState::Assigned => "assigned",
            CaseState::Handled => "handled",
            CaseState::CompletionReviewed => "completion_reviewed",
            CaseState::CalledBack => "called_back",
            CaseState::Closed => "closed",
            CaseState::Raised => "raised",
            CaseState::Dispatched => "dispatched",
            CaseState::Acknowledged => "acknowledged",
            CaseState::EnRoute => "en_route",
            CaseState::OnScene => "on_scene",
            CaseState::Resolved => "resolved",
            CaseState::Reviewed => "reviewed",
            CaseState::Reported => "reported",
            CaseState::Fixed => "fixed",
            CaseState::Logged => "logged",
            CaseState::Mediating { .. } => "mediating",
            CaseState::Settled { .. } => "settled",
            CaseState::NotSettled { .. } => "not_settled",
            CaseState::Open => "open",
        }
    }

    /// Parses the [`fmt::Display`] form: a plain name (`"on_scene"`), or a dispute state with
    /// its level after a colon (`"mediating:gridworker"`). A dispute state without its level
    /// is refused: the level is part of the state.
    pub fn parse(s: &str) -> Option<CaseState> {
        let (name, level) = match s.split_once(':') {
            Some((name, level)) => (name, Some(DefenceLevel::parse(level)?)),
            None => (s, None),
        };
        let plain = match name {
            "received" => CaseState::Received,
            "accepted" => CaseState::Accepted,
            "assigned" => CaseState::Assigned,
            "handled" => CaseState::Handled,
            "completion_reviewed" => CaseState::CompletionReviewed,
            "called_back" => CaseState::CalledBack,
            "closed" => CaseState::Closed,
            "raised" => CaseState::Raised,
            "dispatched" => CaseState::Dispatched,
            "acknowledged" => CaseState::Acknowledged,
            "en_route" => CaseState::EnRoute,
            "on_scene" => CaseState::OnScene,
            "resolved" => CaseState::Resolved,
            "reviewed" => CaseState::Reviewed,
            "reported" => CaseState::Reported,
            "fixed" => CaseState::Fixed,
            "logged" => CaseState::Logged,
            "open" => CaseState::Open,
            "mediating" => return level.map(|level| CaseState::Mediating { level }),
            "settled" => return level.map(|level| CaseState::Settled { level }),
            "not_settled" => return level.map(|level| CaseState::NotSettled { level }),
            _ => return None,
        };
        // A level on a state that has none is malformed.
        if level.is_some() { None } else { Some(plain) }
    }

    /// The line of defence of a dispute state.
    pub fn level(&self) -> Option<DefenceLevel> {
        match *self {
            CaseState::Mediating { level }
            | CaseState::Settled { level }
            | CaseState::NotSettled { level } => Some(level),
            _ => None,
        }
    }

    /// Nothing more is expected of a closed case (only notes and photos).
    pub fn is_closed(&self) -> bool {
        matches!(self, CaseState::Closed | CaseState::Reviewed)
    }

    /// Every state a case of `kind` can be in (dispute states once per level), start first.
    pub fn all_for(kind: CaseKind) -> Vec<CaseState> {
        use CaseState as S;
        match kind {
            CaseKind::Hotline => vec![
                S::Received,
                S::Accepted,
                S::Assigned,
                S::Handled,
                S::CompletionReviewed,
                S::CalledBack,
                S::Closed,
            ],
            CaseKind::Alarm => vec![
                S::Raised,
                S::Dispatched,
                S::Acknowledged,
                S::EnRoute,
                S::OnScene,
                S::Resolved,
                S::Reviewed,
            ],
            CaseKind::Hazard => vec![S::Reported, S::Assigned, S::Fixed, S::Closed],
            CaseKind::Dispute => {
                let mut all = vec![S::Logged];
                all.extend(DefenceLevel::ALL.map(|level| S::Mediating { level }));
                all.extend(DefenceLevel::ALL.map(|level| S::Settled { level }));
                all.extend(DefenceLevel::ALL.map(|level| S::NotSettled { level }));
                all.push(S::Closed);
                all
            }
            CaseKind::PatrolFinding => {
                vec![S::Open, S::Resolved, S::Assigned, S::Fixed, S::Closed]
            }
            CaseKind::Incident => vec![
                S::Raised,
                S::Dispatched,
                S::Acknowledged,
                S::EnRoute,
                S::OnScene,
                S::Resolved,
                S::Reviewed,
            ],
        }
    }

    /// English words for messages: "the alarm is {words}".
    pub fn words(&self) -> String {
        match self {
            CaseState::Received => "received".into(),
            CaseState::Accepted => "accepted".into(),
            CaseState::Assigned => "assigned".into(),
            CaseState::Handled => "handled".into(),
            CaseState::CompletionReviewed => "through completion review".into(),
            CaseState::CalledBack => "called back".into(),
            CaseState::Closed => "closed".into(),
            CaseState::Raised => "raised".into(),
            CaseState::Dispatched => "dispatched".into(),
            CaseState::Acknowledged => "acknowledged".into(),
            CaseState::EnRoute => "en route".into(),
            CaseState::OnScene => "on scene".into(),
            CaseState::Resolved => "resolved".into(),
            CaseState::Reviewed => "reviewed and closed".into(),
            CaseState::Reported => "reported".into(),
            CaseState::Fixed => "fixed".into(),
            CaseState::Logged => "logged".into(),
            CaseState::Mediating { level } => format!("in mediation by the {}", level.words()),
            CaseState::Settled { level } => format!("settled by the {}", level.words()),
            CaseState::NotSettled { level } => format!("not settled by the {}", level.words()),
            CaseState::Open => "open".into(),
        }
    }

    /// The state without its level, for "only a dispute that is in mediation can ..." hints.
    fn family_words(&self) -> &'static str {
        match self {
            CaseState::Mediating { .. } => "in mediation",
            CaseState::Settled { .. } => "settled",
            CaseState::NotSettled { .. } => "not settled",
            _ => "",
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level() {
            Some(level) => write!(f, "{}:{}", self.as_str(), level.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

/// The state a new case of `kind` starts in.
pub fn initial_state(kind: CaseKind) -> CaseState {
    match kind {
        CaseKind::Hotline => CaseState::Received,
        CaseKind::Alarm => CaseState::Raised,
        CaseKind::Hazard => CaseState::Reported,
        CaseKind::Dispute => CaseState::Logged,
        CaseKind::PatrolFinding => CaseState::Open,
        CaseKind::Incident => CaseState::Raised,
    }
}

/// Why a step cannot be taken. Every variant names the case kind, the state the case is in and
/// the step (by its [`CaseAction::name`]); the message says it in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The step is not part of this kind's lifecycle (dispatching a hazard).
    #[error(
        "cannot {}: {} has no such step (this one is {})",
        verb(action), a_kind(*kind), state.words()
    )]
    NotAStep {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
    },
    /// The step was already taken: the case is in the state the step leads to.
    #[error("cannot {}: the {} is already {}", verb(action), kind_words(*kind), state.words())]
    AlreadyDone {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
    },
    /// The step belongs to this kind but not to the state the case is in.
    #[error(
        "cannot {}: the {} is {}; only {} that is {} can {}",
        verb(action), kind_words(*kind), state.words(),
        a_kind(*kind), or_list(allowed), verb(action)
    )]
    WrongState {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
        /// The states from which the step is possible, in words.
        allowed: Vec<String>,
    },
    /// An escalation that does not go strictly up the lines of defence.
    #[error(
        "cannot escalate the {} from the {} to the {}: escalation must go strictly up",
        kind_words(*kind), from.words(), to.words()
    )]
    NotUpward {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
        from: DefenceLevel,
        to: DefenceLevel,
    },
    /// An escalation that jumps over a line of defence.
    #[error(
        "cannot escalate the {} from the {} to the {}: disputes climb the lines of defence in \
         order, the {} next",
        kind_words(*kind), from.words(), to.words(), next.words()
    )]
    SkipsALine {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
        from: DefenceLevel,
        to: DefenceLevel,
        /// The line the dispute goes to next.
        next: DefenceLevel,
    },
    /// Settling (or failing to) at a level other than the one mediating the dispute.
    #[error(
        "cannot {} at the {}: the {} is {}",
        verb(action), level.words(), kind_words(*kind), state.words()
    )]
    WrongLevel {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
        level: DefenceLevel,
    },
    /// A required text (a reason, an agreement) is empty.
    #[error(
        "cannot {}: the {} must not be empty (the {} is {})",
        verb(action), field, kind_words(*kind), state.words()
    )]
    EmptyText {
        kind: CaseKind,
        state: CaseState,
        action: &'static str,
        field: &'static str,
    },
}

impl TransitionError {
    /// The kind of the case the step was refused on.
    pub fn kind(&self) -> CaseKind {
        match self {
            TransitionError::NotAStep { kind, .. }
            | TransitionError::AlreadyDone { kind, .. }
            | TransitionError::WrongState { kind, .. }
            | TransitionError::NotUpward { kind, .. }
            | TransitionError::SkipsALine { kind, .. }
            | TransitionError::WrongLevel { kind, .. }
            | TransitionError::EmptyText { kind, .. } => *kind,
        }
    }

    /// The state the case was in.
    pub fn state(&self) -> CaseState {
        match self {
            TransitionError::NotAStep { state, .. }
            | TransitionError::AlreadyDone { state, .. }
            | TransitionError::WrongState { state, .. }
            | TransitionError::NotUpward { state, .. }
            | TransitionError::SkipsALine { state, .. }
            | TransitionError::WrongLevel { state, .. }
            | TransitionError::EmptyText { state, .. } => *state,
        }
    }

    /// The stable code of the refusal (`step_wrong_state`): what the bindings give the app to
    /// put in its own words, and, dashed, the catalogue's key (`err-step-wrong-state`).
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotAStep { .. } => "step_not_a_step",
            TransitionError::AlreadyDone { .. } => "step_already_done",
            TransitionError::WrongState { .. } => "step_wrong_state",
            TransitionError::NotUpward { .. } => "step_not_upward",
            TransitionError::SkipsALine { .. } => "step_skips_a_line",
            TransitionError::WrongLevel { .. } => "step_wrong_level",
            TransitionError::EmptyText { .. } => "step_empty_text",
        }
    }

    /// The refusal's parts, each a stable code: `kind` ([`CaseKind::as_str`]), `state`
    /// ([`CaseState::as_str`]), `step` ([`CaseAction::name`]), and where the refusal has them
    /// the lines of defence `from`, `to`, `next`, `level` ([`DefenceLevel::as_str`]) and the
    /// empty text's `field`.
    pub fn args(&self) -> Vec<(&'static str, &'static str)> {
        let mut args = vec![
            ("kind", self.kind().as_str()),
            ("state", self.state().as_str()),
            ("step", self.action()),
        ];
        match self {
            TransitionError::NotUpward { from, to, .. } => {
                args.extend([("from", from.as_str()), ("to", to.as_str())]);
            }
            TransitionError::SkipsALine { from, to, next, .. } => {
                args.extend([
                    ("from", from.as_str()),
                    ("to", to.as_str()),
                    ("next", next.as_str()),
                ]);
            }
            TransitionError::WrongLevel { level, .. } => args.push(("level", level.as_str())),
            TransitionError::EmptyText { field, .. } => args.push(("field", field)),
            _ => {}
        }
        args
    }

    /// The refused step, by [`CaseAction::name`].
    pub fn action(&self) -> &'static str {
        match self {
            TransitionError::NotAStep { action, .. }
            | TransitionError::AlreadyDone { action, .. }
            | TransitionError::WrongState { action, .. }
            | TransitionError::NotUpward { action, .. }
            | TransitionError::SkipsALine { action, .. }
            | TransitionError::WrongLevel { action, .. }
            | TransitionError::EmptyText { action, .. } => action,
        }
    }
}

fn verb(action_name: &str) -> &'static str {
    crate::workflow::case_event::action_verb(action_name)
}

/// "hazard", "hotline case", ...: the kind as a noun.
pub(crate) fn kind_words(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Hazard => "hazard",
        CaseKind::Dispute => "dispute",
        CaseKind::Alarm => "alarm",
        CaseKind::Hotline => "hotline case",
        CaseKind::PatrolFinding => "patrol finding",
        CaseKind::Incident => "incident",
    }
}

fn a_kind(kind: CaseKind) -> String {
    let words = kind_words(kind);
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {words}")
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => "in another state".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Why [`step`] refused, before the kind, state and action are attached.
enum Refusal {
    NotAStep,
    WrongState,
    NotUpward {
        from: DefenceLevel,
        to: DefenceLevel,
    },
    SkipsALine {
        from: DefenceLevel,
        to: DefenceLevel,
        next: DefenceLevel,
    },
    WrongLevel {
        level: DefenceLevel,
    },
    EmptyText {
        field: &'static str,
    },
}

fn non_blank(text: &str, field: &'static str) -> Result<(), Refusal> {
    if text.trim().is_empty() {
        Err(Refusal::EmptyText { field })
    } else {
        Ok(())
    }
}

/// Whether `action` is part of `kind`'s lifecycle at all.
fn is_step_of(kind: CaseKind, action: &CaseAction) -> bool {
    use CaseAction as A;
    if action.is_annotation() {
        return true;
    }
    match kind {
        CaseKind::Hotline => matches!(
            action,
            A::Accept
                | A::ReviewAssign { .. }
                | A::Handle
                | A::CompletionReview
                | A::SendBack { .. }
                | A::CallBack { .. }
                | A::Close
        ),
        CaseKind::Alarm => matches!(
            action,
            A::Dispatch { .. }
                | A::Acknowledge
                | A::EnRoute { .. }
                | A::Arrive { .. }
                | A::Resolve
                | A::Review
        ),
        CaseKind::Hazard => matches!(action, A::Assign { .. } | A::Fix | A::Recheck { .. }),
        CaseKind::Dispute => matches!(
            action,
            A::Mediate { .. }
                | A::Escalate { .. }
                | A::Settle { .. }
                | A::NotSettled { .. }
                | A::Close
        ),
        CaseKind::PatrolFinding => matches!(
            action,
            A::Resolve | A::Close | A::Assign { .. } | A::Fix | A::Recheck { .. }
        ),
        CaseKind::Incident => matches!(
            action,
            A::Assign { .. }
                | A::Acknowledge
                | A::EnRoute { .. }
                | A::Arrive { .. }
                | A::Resolve
                | A::Review
        ),
    }
}

/// The transition table. Payload checks come after the state check, so a step from the wrong
/// state is reported as such even when its payload is also bad.
fn step(kind: CaseKind, state: &CaseState, action: &CaseAction) -> Result<CaseState, Refusal> {
    use CaseAction as A;
    use CaseState as S;
    if action.is_annotation() {
        return Ok(*state);
    }
    if !is_step_of(kind, action) {
        return Err(Refusal::NotAStep);
    }
    let next = match kind {
        CaseKind::Hotline => match (state, action) {
            (S::Received, A::Accept) => S::Accepted,
            (S::Accepted | S::Assigned, A::ReviewAssign { .. }) => S::Assigned,
            (S::Assigned, A::Handle) => S::Handled,
            (S::Handled, A::CompletionReview) => S::CompletionReviewed,
            (S::Handled, A::SendBack { reason }) => {
                non_blank(reason, "reason")?;
                S::Assigned
            }
            (S::CompletionReviewed, A::SendBack { reason }) => {
                non_blank(reason, "reason")?;
                S::Handled
            }
            (S::CompletionReviewed, A::CallBack { .. }) => S::CalledBack,
            (S::CalledBack, A::SendBack { reason }) => {
                non_blank(reason, "reason")?;
                S::Assigned
            }
            (S::CalledBack, A::Close) => S::Closed,
            _ => return Err(Refusal::WrongState),
        },
        CaseKind::Alarm => match (state, action) {
            (S::Raised | S::Dispatched, A::Dispatch { .. }) => S::Dispatched,
            (S::Dispatched, A::Acknowledge) => S::Acknowledged,
            (S::Acknowledged, A::EnRoute { .. }) => S::EnRoute,
            (S::Acknowledged | S::EnRoute, A::Arrive { .. }) => S::OnScene,
            (S::OnScene, A::Resolve) => S::Resolved,
            (S::Resolved, A::Review) => S::Reviewed,
            _ => return Err(Refusal::WrongState),
        },
        CaseKind::Hazard => match (state, action) {
            (S::Reported | S::Assigned, A::Assign { .. }) => S::Assigned,
            (S::Reported | S::Assigned, A::Fix) => S::Fixed,
            (S::Fixed, A::Recheck { passed: true }) => S::Closed,
            (S::Fixed, A::Recheck { passed: false }) => S::Assigned,
            _ => return Err(Refusal::WrongState),
        },
        CaseKind::PatrolFinding => match (state, action) {
            (S::Open, A::Resolve) => S::Resolved,
            (S::Resolved, A::Close) => S::Closed,
            (S::Open | S::Assigned, A::Assign { .. }) => S::Assigned,
            (S::Assigned, A::Fix) => S::Fixed,
            (S::Fixed, A::Recheck { passed: true }) => S::Closed,
            (S::Fixed, A::Recheck { passed: false }) => S::Assigned,
            _ => return Err(Refusal::WrongState),
        },
        CaseKind::Dispute => match (state, action) {
            (S::Logged, A::Mediate { level }) => S::Mediating { level: *level },
            (
                S::Mediating { level: from } | S::NotSettled { level: from },
                A::Escalate { to, reason },
            ) => {
                if to <= from {
                    return Err(Refusal::NotUpward {
                        from: *from,
                        to: *to,
                    });
                }
                if let Some(next) = from.next()
                    && *to != next
                {
                    return Err(Refusal::SkipsALine {
                        from: *from,
                        to: *to,
                        next,
                    });
                }
                non_blank(reason, "reason")?;
                S::Mediating { level: *to }
            }
            (S::Mediating { level: current }, A::Settle { level, agreement }) => {
                if level != current {
                    return Err(Refusal::WrongLevel { level: *level });
                }
                non_blank(agreement, "agreement")?;
                S::Settled { level: *level }
            }
            (S::Mediating { level: current }, A::NotSettled { level, reason }) => {
                if level != current {
                    return Err(Refusal::WrongLevel { level: *level });
                }
                non_blank(reason, "reason")?;
                S::NotSettled { level: *level }
            }
            (S::Settled { .. } | S::NotSettled { .. }, A::Close) => S::Closed,
            _ => return Err(Refusal::WrongState),
        },
        CaseKind::Incident => match (state, action) {
            (S::Raised | S::Dispatched, A::Assign { .. }) => S::Dispatched,
            (S::Dispatched, A::Acknowledge) => S::Acknowledged,
            (S::Acknowledged, A::EnRoute { .. }) => S::EnRoute,
            (S::Acknowledged | S::EnRoute, A::Arrive { .. }) => S::OnScene,
            (S::OnScene, A::Resolve) => S::Resolved,
            (S::Resolved, A::Review) => S::Reviewed,
            _ => return Err(Refusal::WrongState),
        },
    };
    Ok(next)
}

/// Takes one step: the state a case of `kind` in `state` is in after `action`, or why the step
/// cannot be taken. Notes and photos are accepted in every state and change nothing.
///
/// ```
/// use gridwork_domain::model::CaseKind;
/// use gridwork_domain::workflow::{CaseAction, CaseState, apply};
///
/// let fixed = apply(CaseKind::Hazard, &CaseState::Assigned, &CaseAction::Fix).unwrap();
/// assert_eq!(fixed, CaseState::Fixed);
/// let err = apply(CaseKind::Hazard, &fixed, &CaseAction::Fix).unwrap_err();
/// assert_eq!(err.to_string(), "cannot fix: the hazard is already fixed");
/// ```
pub fn apply(
    kind: CaseKind,
    state: &CaseState,
    action: &CaseAction,
) -> Result<CaseState, TransitionError> {
    let refusal = match step(kind, state, action) {
        Ok(next) => return Ok(next),
        Err(refusal) => refusal,
    };
    let (state, action_name) = (*state, action.name());
    Err(match refusal {
        Refusal::NotAStep => TransitionError::NotAStep {
            kind,
            state,
            action: action_name,
        },
        Refusal::NotUpward { from, to } => TransitionError::NotUpward {
            kind,
            state,
            action: action_name,
            from,
            to,
        },
        Refusal::SkipsALine { from, to, next } => TransitionError::SkipsALine {
            kind,
            state,
            action: action_name,
            from,
            to,
            next,
        },
        Refusal::WrongLevel { level } => TransitionError::WrongLevel {
            kind,
            state,
            action: action_name,
            level,
        },
        Refusal::EmptyText { field } => TransitionError::EmptyText {
            kind,
            state,
            action: action_name,
            field,
        },
        Refusal::WrongState => {
            let all = CaseState::all_for(kind);
            // "Already": some other state leads by this very step into the one we are in. Not
            // for the steps that move a case back (a send-back, a failed recheck): a case that
            // is assigned has not "already been sent back".
            let moves_back = matches!(
                action,
                CaseAction::SendBack { .. } | CaseAction::Recheck { .. }
            );
            let already = !moves_back
                && all.iter().any(|from| {
                    from != &state && matches!(step(kind, from, action), Ok(s) if s == state)
                });
            if already {
                TransitionError::AlreadyDone {
                    kind,
                    state,
                    action: action_name,
                }
            } else {
                let mut allowed: Vec<String> = Vec::new();
                for from in &all {
                    if matches!(step(kind, from, action), Err(Refusal::WrongState)) {
                        continue;
                    }
                    let words = match from.family_words() {
                        "" => from.words(),
                        family => family.to_string(),
                    };
                    if !allowed.contains(&words) {
                        allowed.push(words);
                    }
                }
                TransitionError::WrongState {
                    kind,
                    state,
                    action: action_name,
                    allowed,
                }
            }
        }
    })
}

/// The steps (by [`CaseAction::name`]) a case of `kind` in `state` can take next, besides
/// notes and photos: the buttons the app shows. Payload-dependent steps (escalate, settle)
/// are listed when some payload is accepted.
pub fn available_actions(kind: CaseKind, state: &CaseState) -> Vec<&'static str> {
    available_actions_where(kind, state, |_| true)
}

/// [`available_actions`] narrowed to the steps `allowed` accepts (the device passes the scope
/// rule, `crate::scope::decide`, so a user sees only the steps their role may take). A step
/// is listed when some sample of it is both possible now and allowed.
pub fn available_actions_where(
    kind: CaseKind,
    state: &CaseState,
    allowed: impl Fn(&CaseAction) -> bool,
) -> Vec<&'static str> {
    let id = Id::nil();
    let text = String::from("-");
    let mut samples = vec![
        CaseAction::Accept,
        CaseAction::ReviewAssign {
            assignee: None,
            deadline_ms: None,
        },
        CaseAction::Handle,
        CaseAction::CompletionReview,
        CaseAction::SendBack {
            reason: text.clone(),
        },
        CaseAction::CallBack { satisfied: true },
        CaseAction::Close,
        CaseAction::Dispatch { station_id: id },
        CaseAction::Acknowledge,
        CaseAction::EnRoute { position: None },
        CaseAction::Arrive { position: None },
        CaseAction::Resolve,
        CaseAction::Review,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
        CaseAction::Fix,
        CaseAction::Recheck { passed: true },
    ];
    // Grouped by step so the names come out in the enum's order whatever level fits.
    samples.extend(DefenceLevel::ALL.map(|level| CaseAction::Mediate { level }));
    samples.extend(DefenceLevel::ALL.map(|to| CaseAction::Escalate {
        to,
        reason: text.clone(),
    }));
    samples.extend(DefenceLevel::ALL.map(|level| CaseAction::Settle {
        level,
        agreement: text.clone(),
    }));
    samples.extend(DefenceLevel::ALL.map(|level| CaseAction::NotSettled {
        level,
        reason: text.clone(),
    }));
    let mut names: Vec<&'static str> = Vec::new();
    for action in &samples {
        if !names.contains(&action.name()) && step(kind, state, action).is_ok() && allowed(action) {
            names.push(action.name());
        }
    }
    names
}

/// An event the fold could not apply: it stays in the history and is shown as a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedEvent {
    pub event_id: Id,
    /// Why it could not be applied, in words (a [`TransitionError`] message).
    pub reason: String,
}

/// A case's state and the facts derived from its history: the result of [`fold`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFold {
    pub state: CaseState,
    /// When the case entered its current state (physical ms of that event), or when it was
    /// opened. Self-transitions (re-assigning, re-dispatching) do not move it: handing a case to
    /// someone else does not buy it more time.
    pub state_since_ms: u64,
    /// Applied events, in the order applied.
    pub applied: Vec<Id>,
    /// Events that could not be applied, in HLC order.
    pub flagged: Vec<FlaggedEvent>,
    /// Who the case is assigned to (hotline, hazard, patrol finding).
    pub assignee: Option<Id>,
    /// The deadline set on the last assignment, until the step it governs is done (handled,
    /// fixed). `None` means the policy's default applies.
    pub explicit_deadline_ms: Option<u64>,
    /// The station the alarm was (last) dispatched to.
    pub dispatched_station: Option<Id>,
    /// When the alarm was (last) dispatched to a station, or the incident to a responder.
    pub dispatched_at_ms: Option<u64>,
    pub acknowledged_at_ms: Option<u64>,
    pub en_route_at_ms: Option<u64>,
    /// Where the crew (or responder) was when it set off.
    #[serde(default)]
    pub en_route_position: Option<Position>,
    pub arrived_at_ms: Option<u64>,
    pub arrived_position: Option<Position>,
    /// When the alarm or patrol finding was resolved.
    pub resolved_at_ms: Option<u64>,
    /// When the hazard or finding was last reported fixed.
    pub fixed_at_ms: Option<u64>,
    /// When the case entered a closed state.
    pub closed_at_ms: Option<u64>,
    /// The line of defence currently (or last) mediating the dispute.
    pub mediation_level: Option<DefenceLevel>,
    /// Where the dispute was settled.
    pub settlement_level: Option<DefenceLevel>,
    pub settled_at_ms: Option<u64>,
    pub escalations: u32,
    pub rechecks_failed: u32,
    /// Hotline send-backs (退回).
    pub sent_back: u32,
    /// The last hotline call-back's answer.
    pub callback_satisfied: Option<bool>,
}

impl CaseFold {
    /// A case of `kind` opened at `opened_at_ms` with no events yet.
    pub fn new(kind: CaseKind, opened_at_ms: u64) -> CaseFold {
        CaseFold {
            state: initial_state(kind),
            state_since_ms: opened_at_ms,
            applied: Vec::new(),
            flagged: Vec::new(),
            assignee: None,
            explicit_deadline_ms: None,
            dispatched_station: None,
            dispatched_at_ms: None,
            acknowledged_at_ms: None,
            en_route_at_ms: None,
            en_route_position: None,
            arrived_at_ms: None,
            arrived_position: None,
            resolved_at_ms: None,
            fixed_at_ms: None,
            closed_at_ms: None,
            mediation_level: None,
            settlement_level: None,
            settled_at_ms: None,
            escalations: 0,
            rechecks_failed: 0,
            sent_back: 0,
            callback_satisfied: None,
        }
    }

    /// Whether the case is closed.
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Applies one event in order, or flags it. Callers must feed events in HLC order without
    /// duplicates; [`fold`] does.
    fn push(&mut self, kind: CaseKind, event: &CaseEvent) {
        let next = match apply(kind, &self.state, &event.action) {
            Ok(next) => next,
            Err(err) => {
                self.flagged.push(FlaggedEvent {
                    event_id: event.id,
                    reason: err.to_string(),
                });
                return;
            }
        };
        let at = event.at_ms();
        match &event.action {
            CaseAction::ReviewAssign {
                assignee,
                deadline_ms,
            }
            | CaseAction::Assign {
                assignee,
                deadline_ms,
            } => {
                // An assignment is a whole decision: who and by when. Omitting the deadline
                // means "the policy's default", not "keep the previous one".
                self.assignee = *assignee;
                self.explicit_deadline_ms = *deadline_ms;
                if kind == CaseKind::Incident {
                    self.dispatched_at_ms = Some(at);
                }
            }
            CaseAction::Handle => self.explicit_deadline_ms = None,
            CaseAction::Fix => {
                self.explicit_deadline_ms = None;
                self.fixed_at_ms = Some(at);
            }
            CaseAction::SendBack { .. } => self.sent_back += 1,
            CaseAction::CallBack { satisfied } => self.callback_satisfied = Some(*satisfied),
            CaseAction::Dispatch { station_id } => {
                self.dispatched_station = Some(*station_id);
                self.dispatched_at_ms = Some(at);
            }
            CaseAction::Acknowledge => self.acknowledged_at_ms = Some(at),
            CaseAction::EnRoute { position } => {
                self.en_route_at_ms = Some(at);
                self.en_route_position = *position;
            }
            CaseAction::Arrive { position } => {
                self.arrived_at_ms = Some(at);
                self.arrived_position = *position;
            }
            CaseAction::Resolve => self.resolved_at_ms = Some(at),
            CaseAction::Recheck { passed: false } => self.rechecks_failed += 1,
            CaseAction::Mediate { level } => self.mediation_level = Some(*level),
            CaseAction::Escalate { to, .. } => {
                self.mediation_level = Some(*to);
                self.escalations += 1;
            }
            CaseAction::Settle { level, .. } => {
                self.settlement_level = Some(*level);
                self.settled_at_ms = Some(at);
            }
            CaseAction::Accept
            | CaseAction::CompletionReview
            | CaseAction::Close
            | CaseAction::Review
            | CaseAction::Recheck { passed: true }
            | CaseAction::NotSettled { .. }
            | CaseAction::Note { .. }
            | CaseAction::Photo { .. } => {}
        }
        if next.is_closed() && !self.state.is_closed() {
            self.closed_at_ms = Some(at);
        }
        if next != self.state {
            self.state_since_ms = at;
        }
        self.state = next;
        self.applied.push(event.id);
    }
}

/// Folds a case's events into its state: sorts a copy by (stamp, id), drops repeated event ids,
/// applies each through [`apply`], and flags (without applying) those that cannot be applied.
///
/// The result depends only on the set of events, not on their order in the slice nor on
/// duplicates, so every device that has the same events shows the same state. Events whose
/// `case_id` differs from the first event's are flagged too.
pub fn fold(kind: CaseKind, opened_at_ms: u64, events: &[CaseEvent]) -> CaseFold {
    fold_until(kind, opened_at_ms, events, u64::MAX)
}

/// [`fold`] over the events that happened at or before `until_ms` (by their stamp's physical
/// time): the case as it stood then. The weekly brief uses it for "as at the end of the week".
pub fn fold_until(
    kind: CaseKind,
    opened_at_ms: u64,
    events: &[CaseEvent],
    until_ms: u64,
) -> CaseFold {
    let mut sorted: Vec<&CaseEvent> = events.iter().filter(|e| e.at_ms() <= until_ms).collect();
    sorted.sort_by(|a, b| {
        (a.stamp, a.id).cmp(&(b.stamp, b.id)).then_with(|| {
            // Only two copies of one event id with the same stamp get here. Copies are equal
            // in practice; if a corrupt replica made them differ, still pick the same one on
            // every device.
            canonical(a).cmp(&canonical(b))
        })
    });
    let mut fold = CaseFold::new(kind, opened_at_ms);
    let mut seen: HashSet<Id> = HashSet::with_capacity(sorted.len());
    for event in sorted {
        if seen.insert(event.id) {
            fold.push(kind, event);
        }
    }
    fold
}

fn canonical(event: &CaseEvent) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::{Hlc, Stamp};
    use crate::model::Severity;
    use crate::workflow::test_support::*;
    use proptest::prelude::*;

    use CaseAction as A;
    use DefenceLevel as L;

    fn send_back(reason: &str) -> CaseAction {
        A::SendBack {
            reason: reason.into(),
        }
    }

    // -- hotline ------------------------------------------------------------------------------

    #[test]
    fn a_hotline_case_goes_through_the_five_steps_and_closes() {
        let mut s = Story::new(CaseKind::Hotline, Severity::Medium, t0());
        assert_eq!(s.fold().state, CaseState::Received);
        s.after(10 * MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: Some(id(42)),
                deadline_ms: Some(t0() + 2 * DAY),
            },
        );
        let f = s.fold();
        assert_eq!(f.state, CaseState::Assigned);
        assert_eq!(f.assignee, Some(id(42)));
        assert_eq!(f.explicit_deadline_ms, Some(t0() + 2 * DAY));
        s.after(DAY, A::Handle);
        assert_eq!(
            s.fold().explicit_deadline_ms,
            None,
            "the deadline governed the handling"
        );
        s.after(DAY + HOUR, A::CompletionReview);
        s.after(2 * DAY, A::CallBack { satisfied: true });
        s.after(2 * DAY + HOUR, A::Close);
        let f = s.fold();
        assert_eq!(f.state, CaseState::Closed);
        assert!(f.is_closed());
        assert_eq!(f.closed_at_ms, Some(t0() + 2 * DAY + HOUR));
        assert_eq!(f.state_since_ms, t0() + 2 * DAY + HOUR);
        assert_eq!(f.callback_satisfied, Some(true));
        assert_eq!(f.applied.len(), 6);
        assert!(f.flagged.is_empty());
    }

    #[test]
    fn a_hotline_case_sent_back_at_completion_review() {
        let mut s = Story::new(CaseKind::Hotline, Severity::Low, t0());
        s.after(MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: Some(id(7)),
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Handle);
        // The reviewer finds the drain still blocked: 退回, handle it again.
        s.after(DAY + HOUR, send_back("下水道仍然堵塞"));
        let f = s.fold();
        assert_eq!(f.state, CaseState::Assigned);
        assert_eq!(f.sent_back, 1);
        assert_eq!(f.assignee, Some(id(7)), "it goes back to the same assignee");
        assert_eq!(f.state_since_ms, t0() + DAY + HOUR);
        s.after(2 * DAY, A::Handle);
        s.after(2 * DAY + HOUR, A::CompletionReview);
        assert_eq!(s.fold().state, CaseState::CompletionReviewed);
    }

    #[test]
    fn a_completion_review_withdrawn_before_the_call_back_returns_to_handled() {
        let mut s = Story::new(CaseKind::Hotline, Severity::Low, t0());
        s.after(MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: None,
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Handle);
        s.after(DAY + HOUR, A::CompletionReview);
        s.after(DAY + 2 * HOUR, send_back("办结材料缺照片"));
        let f = s.fold();
        assert_eq!(f.state, CaseState::Handled);
        assert_eq!(f.sent_back, 1);
    }

    #[test]
    fn an_unsatisfied_resident_is_recorded_and_the_case_can_be_handled_again() {
        let mut s = Story::new(CaseKind::Hotline, Severity::Low, t0());
        for (i, action) in [
            A::Accept,
            A::ReviewAssign {
                assignee: None,
                deadline_ms: None,
            },
            A::Handle,
            A::CompletionReview,
            A::CallBack { satisfied: false },
        ]
        .into_iter()
        .enumerate()
        {
            s.after(i as u64 * HOUR, action);
        }
        let f = s.fold();
        assert_eq!(f.state, CaseState::CalledBack);
        assert_eq!(f.callback_satisfied, Some(false));
        s.after(6 * HOUR, send_back("居民不满意，重办"));
        assert_eq!(s.fold().state, CaseState::Assigned);
    }

    #[test]
    fn a_send_back_without_a_reason_is_refused() {
        let err = apply(CaseKind::Hotline, &CaseState::Handled, &send_back("  ")).unwrap_err();
        assert!(matches!(
            err,
            TransitionError::EmptyText {
                field: "reason",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "cannot send back: the reason must not be empty (the hotline case is handled)"
        );
    }

    #[test]
    fn an_assigned_hotline_case_cannot_be_sent_back() {
        let err = apply(CaseKind::Hotline, &CaseState::Assigned, &send_back("重办")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot send back: the hotline case is assigned; only a hotline case that is handled, \
             through completion review or called back can send back"
        );
        let recheck = A::Recheck { passed: false };
        let err = apply(CaseKind::Hazard, &CaseState::Assigned, &recheck).unwrap_err();
        assert!(
            matches!(err, TransitionError::WrongState { .. }),
            "not 'already': {err}"
        );
    }

    #[test]
    fn a_hotline_case_cannot_be_handled_before_it_is_assigned() {
        let err = apply(CaseKind::Hotline, &CaseState::Accepted, &A::Handle).unwrap_err();
        assert_eq!(err.kind(), CaseKind::Hotline);
        assert_eq!(err.state(), CaseState::Accepted);
        assert_eq!(err.action(), "handle");
        assert_eq!(
            err.to_string(),
            "cannot handle: the hotline case is accepted; only a hotline case that is assigned \
             can handle"
        );
    }

    #[test]
    fn reassigning_replaces_assignee_and_deadline_but_does_not_restart_the_clock() {
        let mut s = Story::new(CaseKind::Hotline, Severity::High, t0());
        s.after(MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: Some(id(1)),
                deadline_ms: Some(t0() + DAY),
            },
        );
        s.after(
            2 * HOUR,
            A::ReviewAssign {
                assignee: Some(id(2)),
                deadline_ms: None,
            },
        );
        let f = s.fold();
        assert_eq!(f.state, CaseState::Assigned);
        assert_eq!(f.assignee, Some(id(2)));
        assert_eq!(
            f.explicit_deadline_ms, None,
            "the new assignment uses the default deadline"
        );
        assert_eq!(f.state_since_ms, t0() + HOUR);
    }

    // -- alarm --------------------------------------------------------------------------------

    #[test]
    fn an_alarm_runs_from_raised_to_reviewed() {
        let mut s = Story::new(CaseKind::Alarm, Severity::Critical, t0());
        assert_eq!(s.fold().state, CaseState::Raised);
        s.after(
            20_000,
            A::Dispatch {
                station_id: id(0x57),
            },
        );
        s.after(50_000, A::Acknowledge);
        s.after(
            2 * MINUTE,
            A::EnRoute {
                position: Some(pos(30.2460, 120.1500)),
            },
        );
        s.after(
            4 * MINUTE,
            A::Arrive {
                position: Some(pos(30.2500, 120.1550)),
            },
        );
        s.after(20 * MINUTE, A::Resolve);
        s.after(DAY, A::Review);
        let f = s.fold();
        assert_eq!(f.state, CaseState::Reviewed);
        assert!(f.is_closed());
        assert_eq!(f.dispatched_station, Some(id(0x57)));
        assert_eq!(f.dispatched_at_ms, Some(t0() + 20_000));
        assert_eq!(f.acknowledged_at_ms, Some(t0() + 50_000));
        assert_eq!(f.en_route_at_ms, Some(t0() + 2 * MINUTE));
        assert_eq!(f.arrived_at_ms, Some(t0() + 4 * MINUTE));
        assert_eq!(f.arrived_position, Some(pos(30.2500, 120.1550)));
        assert_eq!(f.resolved_at_ms, Some(t0() + 20 * MINUTE));
        assert_eq!(f.closed_at_ms, Some(t0() + DAY));
    }

    #[test]
    fn a_crew_that_forgot_to_press_en_route_still_arrives() {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(4 * MINUTE, A::Arrive { position: None });
        let f = s.fold();
        assert_eq!(f.state, CaseState::OnScene);
        assert_eq!(f.en_route_at_ms, None);
        assert_eq!(f.arrived_at_ms, Some(t0() + 4 * MINUTE));
    }

    #[test]
    fn the_crews_position_is_kept_when_it_sets_off_and_when_it_arrives() {
        // The crew confirms "en route" from the station and "arrived" at the building, each
        // with where its phone was: the command centre sees both on the map.
        let station = pos(30.2460, 120.1500);
        let building = pos(30.2500, 120.1550);
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(
            MINUTE,
            A::EnRoute {
                position: Some(station),
            },
        );
        let on_the_way = s.fold();
        assert_eq!(on_the_way.en_route_position, Some(station));
        assert_eq!(on_the_way.arrived_position, None);
        s.after(
            4 * MINUTE,
            A::Arrive {
                position: Some(building),
            },
        );
        let f = s.fold();
        assert_eq!(
            (f.en_route_position, f.arrived_position),
            (Some(station), Some(building))
        );
        // A fold stored before the en-route position existed reads as "no position".
        let mut stored = serde_json::to_value(&f).unwrap();
        stored.as_object_mut().unwrap().remove("en_route_position");
        let old: CaseFold = serde_json::from_value(stored).unwrap();
        assert_eq!(old.en_route_position, None);
        assert_eq!(old.arrived_position, Some(building));
    }

    #[test]
    fn a_crew_cannot_arrive_at_an_alarm_not_yet_dispatched() {
        let arrive = A::Arrive { position: None };
        let err = apply(CaseKind::Alarm, &CaseState::Raised, &arrive).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot arrive: the alarm is raised; only an alarm that is acknowledged or en route \
             can arrive"
        );
    }

    #[test]
    fn resolving_an_alarm_twice_flags_the_second_event() {
        // Two crew members each press "resolved" on their own phone, offline.
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(MINUTE, A::EnRoute { position: None });
        s.after(5 * MINUTE, A::Arrive { position: None });
        let first = s.after(15 * MINUTE, A::Resolve);
        let second = s.after(16 * MINUTE, A::Resolve);
        let f = s.fold();
        assert_eq!(f.state, CaseState::Resolved);
        assert_eq!(f.resolved_at_ms, Some(t0() + 15 * MINUTE));
        assert!(f.applied.contains(&first));
        assert!(!f.applied.contains(&second));
        assert_eq!(
            f.flagged,
            vec![FlaggedEvent {
                event_id: second,
                reason: "cannot resolve: the alarm is already resolved".into()
            }]
        );
    }

    #[test]
    fn an_alarm_nobody_acknowledged_is_dispatched_to_the_next_station() {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(70_000, A::Dispatch { station_id: id(2) });
        let f = s.fold();
        assert_eq!(f.state, CaseState::Dispatched);
        assert_eq!(f.dispatched_station, Some(id(2)));
        assert_eq!(f.dispatched_at_ms, Some(t0() + 70_000));
        assert_eq!(
            f.state_since_ms,
            t0() + 10_000,
            "re-dispatch does not restart the clock"
        );
        s.after(80_000, A::Acknowledge);
        s.after(90_000, A::Dispatch { station_id: id(3) });
        let f = s.fold();
        assert_eq!(
            f.flagged.len(),
            1,
            "once a crew has it, it is not re-dispatched"
        );
        assert_eq!(f.dispatched_station, Some(id(2)));
    }

    #[test]
    fn a_note_and_a_photo_on_a_closed_alarm_are_kept_and_change_nothing() {
        let mut s = Story::new(CaseKind::Alarm, Severity::Low, t0());
        for (i, action) in [
            A::Dispatch { station_id: id(1) },
            A::Acknowledge,
            A::Arrive { position: None },
            A::Resolve,
            A::Review,
        ]
        .into_iter()
        .enumerate()
        {
            s.after(i as u64 * MINUTE, action);
        }
        let before = s.fold();
        let note = s.after(
            DAY,
            A::Note {
                text: "起火点为电动车电池".into(),
            },
        );
        let photo = s.after(
            DAY + 1,
            A::Photo {
                attachment: None,
                uri: Some("blob:abc".into()),
            },
        );
        let after = s.fold();
        assert_eq!(after.state, CaseState::Reviewed);
        assert_eq!(after.state_since_ms, before.state_since_ms);
        assert_eq!(after.closed_at_ms, before.closed_at_ms);
        assert_eq!(&after.applied[5..], &[note, photo]);
        assert!(after.flagged.is_empty());
    }

    // -- hazard -------------------------------------------------------------------------------

    #[test]
    fn a_hazard_fails_its_recheck_and_goes_back_to_assigned() {
        let mut s = Story::new(CaseKind::Hazard, Severity::High, t0());
        s.after(
            HOUR,
            A::Assign {
                assignee: Some(id(9)),
                deadline_ms: Some(t0() + 3 * DAY),
            },
        );
        s.after(2 * DAY, A::Fix);
        let f = s.fold();
        assert_eq!(f.state, CaseState::Fixed);
        assert_eq!(f.fixed_at_ms, Some(t0() + 2 * DAY));
        assert_eq!(
            f.explicit_deadline_ms, None,
            "the deadline governed the fix"
        );
        // The e-bike is back in the stairwell on the recheck.
        s.after(3 * DAY, A::Recheck { passed: false });
        let f = s.fold();
        assert_eq!(f.state, CaseState::Assigned);
        assert_eq!(f.rechecks_failed, 1);
        assert_eq!(f.assignee, Some(id(9)));
        assert_eq!(f.state_since_ms, t0() + 3 * DAY);
        assert_eq!(f.closed_at_ms, None);
        s.after(4 * DAY, A::Fix);
        s.after(5 * DAY, A::Recheck { passed: true });
        let f = s.fold();
        assert_eq!(f.state, CaseState::Closed);
        assert_eq!(f.closed_at_ms, Some(t0() + 5 * DAY));
        assert_eq!(f.rechecks_failed, 1);
    }

    #[test]
    fn a_hazard_fixed_on_the_spot_still_needs_its_recheck() {
        let mut s = Story::new(CaseKind::Hazard, Severity::Medium, t0());
        s.after(5 * MINUTE, A::Fix);
        assert_eq!(s.fold().state, CaseState::Fixed);
        assert_eq!(
            available_actions(CaseKind::Hazard, &CaseState::Fixed),
            vec!["recheck"]
        );
    }

    #[test]
    fn a_hazard_that_is_fixed_cannot_be_fixed_again() {
        let err = apply(CaseKind::Hazard, &CaseState::Fixed, &A::Fix).unwrap_err();
        assert!(matches!(err, TransitionError::AlreadyDone { .. }));
        assert_eq!(err.to_string(), "cannot fix: the hazard is already fixed");
    }

    #[test]
    fn a_hazard_has_no_dispatch_step() {
        let err = apply(
            CaseKind::Hazard,
            &CaseState::Reported,
            &A::Dispatch { station_id: id(1) },
        )
        .unwrap_err();
        assert!(matches!(err, TransitionError::NotAStep { .. }));
        assert_eq!(
            err.to_string(),
            "cannot dispatch: a hazard has no such step (this one is reported)"
        );
    }

    // -- dispute ------------------------------------------------------------------------------

    fn escalate(to: DefenceLevel) -> CaseAction {
        A::Escalate {
            to,
            reason: "双方分歧大".into(),
        }
    }

    #[test]
    fn a_dispute_escalated_to_the_village_secretary_and_settled_there_is_not_settled_inside_the_grid()
     {
        let mut s = Story::new(CaseKind::Dispute, Severity::Medium, t0());
        s.after(
            MINUTE,
            A::Mediate {
                level: L::MicroGridLeader,
            },
        );
        s.after(HOUR, escalate(L::Gridworker));
        s.after(2 * HOUR, escalate(L::VillageSecretary));
        s.after(
            3 * HOUR,
            A::Settle {
                level: L::VillageSecretary,
                agreement: "赔偿500元".into(),
            },
        );
        let f = s.fold();
        assert_eq!(
            f.state,
            CaseState::Settled {
                level: L::VillageSecretary
            }
        );
        assert_eq!(f.settlement_level, Some(L::VillageSecretary));
        assert_eq!(f.settled_at_ms, Some(t0() + 3 * HOUR));
        assert_eq!(f.escalations, 2);
        let level = f.settlement_level.unwrap();
        assert!(!level.is_inside_grid());
        assert!(level.is_inside_village());
        s.after(DAY, A::Close);
        assert_eq!(s.fold().state, CaseState::Closed);
    }

    #[test]
    fn a_dispute_settled_by_the_micro_grid_leader_stays_in_the_grid() {
        let mut s = Story::new(CaseKind::Dispute, Severity::Low, t0());
        s.after(
            MINUTE,
            A::Mediate {
                level: L::MicroGridLeader,
            },
        );
        s.after(
            HOUR,
            A::Settle {
                level: L::MicroGridLeader,
                agreement: "晚上十点后不装修".into(),
            },
        );
        let f = s.fold();
        assert_eq!(f.mediation_level, Some(L::MicroGridLeader));
        assert!(f.settlement_level.unwrap().is_inside_grid());
        assert_eq!(f.escalations, 0);
    }

    #[test]
    fn escalation_must_go_strictly_up() {
        let state = CaseState::Mediating {
            level: L::Gridworker,
        };
        let same = apply(CaseKind::Dispute, &state, &escalate(L::Gridworker)).unwrap_err();
        assert!(matches!(same, TransitionError::NotUpward { .. }));
        let down = apply(CaseKind::Dispute, &state, &escalate(L::MicroGridLeader)).unwrap_err();
        assert_eq!(
            down.to_string(),
            "cannot escalate the dispute from the gridworker to the micro-grid leader: \
             escalation must go strictly up"
        );
        let up = apply(CaseKind::Dispute, &state, &escalate(L::VillageSecretary));
        assert_eq!(
            up,
            Ok(CaseState::Mediating {
                level: L::VillageSecretary
            })
        );
    }

    #[test]
    fn disputes_climb_the_three_lines_of_defence_in_order() {
        // 第一道防线 → 第二道 → 第三道 (村书记) → 街道: no line is skipped.
        let first = CaseState::Mediating {
            level: L::MicroGridLeader,
        };
        let skip = apply(CaseKind::Dispute, &first, &escalate(L::VillageSecretary)).unwrap_err();
        assert!(matches!(
            skip,
            TransitionError::SkipsALine {
                next: L::Gridworker,
                ..
            }
        ));
        assert_eq!(
            skip.to_string(),
            "cannot escalate the dispute from the micro-grid leader to the village secretary: \
             disputes climb the lines of defence in order, the gridworker next"
        );
        let mut s = Story::new(CaseKind::Dispute, Severity::High, t0());
        s.after(
            MINUTE,
            A::Mediate {
                level: L::MicroGridLeader,
            },
        );
        for (i, level) in [
            L::Gridworker,
            L::VillageSecretary,
            L::SubdistrictMediationCentre,
        ]
        .into_iter()
        .enumerate()
        {
            s.after((i as u64 + 1) * DAY, escalate(level));
        }
        let f = s.fold();
        assert!(f.flagged.is_empty(), "{:?}", f.flagged);
        assert_eq!(f.escalations, 3);
        assert_eq!(
            f.state,
            CaseState::Mediating {
                level: L::SubdistrictMediationCentre
            }
        );
        // After a failed mediation the next line is the same.
        let failed = CaseState::NotSettled {
            level: L::Gridworker,
        };
        assert!(
            apply(
                CaseKind::Dispute,
                &failed,
                &escalate(L::SubdistrictMediationCentre)
            )
            .is_err()
        );
        assert!(apply(CaseKind::Dispute, &failed, &escalate(L::VillageSecretary)).is_ok());
        assert_eq!(L::SubdistrictMediationCentre.next(), None);
    }

    #[test]
    fn an_incident_is_dispatched_acknowledged_reached_resolved_and_reviewed() {
        let mut s = Story::new(CaseKind::Incident, Severity::Medium, t0());
        assert_eq!(s.fold().state, CaseState::Raised);
        assert_eq!(
            available_actions(CaseKind::Incident, &CaseState::Raised),
            vec!["assign"]
        );
        s.after(
            30_000,
            A::Assign {
                assignee: Some(id(5)),
                deadline_ms: None,
            },
        );
        // Nobody picked it up: dispatched to someone else.
        s.after(
            50_000,
            A::Assign {
                assignee: Some(id(6)),
                deadline_ms: None,
            },
        );
        s.after(MINUTE, A::Acknowledge);
        s.after(
            2 * MINUTE,
            A::EnRoute {
                position: Some(pos(30.27, 120.16)),
            },
        );
        s.after(8 * MINUTE, A::Arrive { position: None });
        s.after(40 * MINUTE, A::Resolve);
        s.after(HOUR, A::Review);
        let f = s.fold();
        assert!(f.flagged.is_empty(), "{:?}", f.flagged);
        assert_eq!(f.state, CaseState::Reviewed);
        assert_eq!(f.assignee, Some(id(6)));
        assert_eq!(f.dispatched_at_ms, Some(t0() + 50_000));
        assert_eq!(f.en_route_position, Some(pos(30.27, 120.16)));
        assert_eq!(f.arrived_at_ms, Some(t0() + 8 * MINUTE));
        let late = apply(
            CaseKind::Incident,
            &CaseState::Acknowledged,
            &A::Assign {
                assignee: None,
                deadline_ms: None,
            },
        );
        assert!(
            late.is_err(),
            "once acknowledged it is not dispatched again"
        );
        assert!(apply(CaseKind::Incident, &CaseState::Raised, &A::Fix).is_err());
    }

    #[test]
    fn an_escalation_needs_a_reason() {
        let state = CaseState::Mediating {
            level: L::MicroGridLeader,
        };
        let action = A::Escalate {
            to: L::Gridworker,
            reason: String::new(),
        };
        let err = apply(CaseKind::Dispute, &state, &action).unwrap_err();
        assert!(matches!(
            err,
            TransitionError::EmptyText {
                field: "reason",
                ..
            }
        ));
    }

    #[test]
    fn a_dispute_is_settled_at_the_level_mediating_it_not_another() {
        let state = CaseState::Mediating {
            level: L::Gridworker,
        };
        let action = A::Settle {
            level: L::VillageSecretary,
            agreement: "和解".into(),
        };
        let err = apply(CaseKind::Dispute, &state, &action).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot settle at the village secretary: the dispute is in mediation by the gridworker"
        );
    }

    #[test]
    fn a_failed_mediation_is_escalated_or_closed() {
        let mut s = Story::new(CaseKind::Dispute, Severity::High, t0());
        s.after(
            MINUTE,
            A::Mediate {
                level: L::Gridworker,
            },
        );
        s.after(
            DAY,
            A::NotSettled {
                level: L::Gridworker,
                reason: "一方拒绝调解".into(),
            },
        );
        assert_eq!(
            s.fold().state,
            CaseState::NotSettled {
                level: L::Gridworker
            }
        );
        let mut closed = s.clone();
        closed.after(2 * DAY, A::Close);
        assert_eq!(closed.fold().state, CaseState::Closed);
        assert_eq!(closed.fold().settlement_level, None);
        s.after(2 * DAY, escalate(L::VillageSecretary));
        let f = s.fold();
        assert_eq!(
            f.state,
            CaseState::Mediating {
                level: L::VillageSecretary
            }
        );
        assert_eq!(f.mediation_level, Some(L::VillageSecretary));
    }

    #[test]
    fn mediation_cannot_be_settled_before_it_starts() {
        let action = A::Settle {
            level: L::Gridworker,
            agreement: "和解".into(),
        };
        let err = apply(CaseKind::Dispute, &CaseState::Logged, &action).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot settle: the dispute is logged; only a dispute that is in mediation can settle"
        );
    }

    // -- patrol finding -----------------------------------------------------------------------

    #[test]
    fn a_patrol_finding_resolved_on_the_spot_is_then_closed() {
        let mut s = Story::new(CaseKind::PatrolFinding, Severity::Low, t0());
        assert_eq!(s.fold().state, CaseState::Open);
        s.after(MINUTE, A::Resolve);
        s.after(HOUR, A::Close);
        let f = s.fold();
        assert_eq!(f.state, CaseState::Closed);
        assert_eq!(f.resolved_at_ms, Some(t0() + MINUTE));
    }

    #[test]
    fn a_patrol_finding_assigned_for_a_fix_is_rechecked_like_a_hazard() {
        let mut s = Story::new(CaseKind::PatrolFinding, Severity::Medium, t0());
        s.after(
            MINUTE,
            A::Assign {
                assignee: Some(id(3)),
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Fix);
        s.after(2 * DAY, A::Recheck { passed: false });
        assert_eq!(s.fold().state, CaseState::Assigned);
        s.after(3 * DAY, A::Fix);
        s.after(4 * DAY, A::Recheck { passed: true });
        let f = s.fold();
        assert_eq!(f.state, CaseState::Closed);
        assert_eq!(f.rechecks_failed, 1);
    }

    // -- states -------------------------------------------------------------------------------

    #[test]
    fn states_round_trip_through_their_names_and_serde() {
        for kind in CaseKind::ALL {
            for state in CaseState::all_for(kind) {
                assert_eq!(CaseState::parse(&state.to_string()), Some(state));
                let json = serde_json::to_string(&state).unwrap();
                assert_eq!(serde_json::from_str::<CaseState>(&json).unwrap(), state);
            }
        }
        assert_eq!(
            serde_json::to_string(&CaseState::OnScene).unwrap(),
            "\"on_scene\""
        );
        assert_eq!(
            CaseState::Mediating {
                level: L::Gridworker
            }
            .to_string(),
            "mediating:gridworker"
        );
        assert_eq!(
            CaseState::parse("mediating"),
            None,
            "a dispute state needs its level"
        );
        assert_eq!(CaseState::parse("closed:gridworker"), None);
        assert_eq!(CaseState::parse("burning"), None);
    }

    #[test]
    fn only_closed_and_reviewed_are_closed() {
        for kind in CaseKind::ALL {
            for state in CaseState::all_for(kind) {
                let closed = matches!(state, CaseState::Closed | CaseState::Reviewed);
                assert_eq!(state.is_closed(), closed, "{state}");
                if closed {
                    assert!(
                        available_actions(kind, &state).is_empty(),
                        "{kind:?} {state}"
                    );
                }
            }
            assert!(!initial_state(kind).is_closed());
            assert!(CaseState::all_for(kind).contains(&initial_state(kind)));
        }
    }

    #[test]
    fn the_app_offers_the_next_steps() {
        assert_eq!(
            available_actions(CaseKind::Hotline, &CaseState::Received),
            vec!["accept"]
        );
        assert_eq!(
            available_actions(CaseKind::Hotline, &CaseState::Handled),
            vec!["completion_review", "send_back"]
        );
        assert_eq!(
            available_actions(CaseKind::Alarm, &CaseState::Acknowledged),
            vec!["en_route", "arrive"]
        );
        assert_eq!(
            available_actions(
                CaseKind::Dispute,
                &CaseState::Mediating {
                    level: L::Gridworker
                }
            ),
            vec!["escalate", "settle", "not_settled"]
        );
        assert_eq!(
            available_actions(
                CaseKind::Dispute,
                &CaseState::Mediating {
                    level: L::SubdistrictMediationCentre
                }
            ),
            vec!["settle", "not_settled"],
            "nowhere higher to escalate to"
        );
    }

    // -- the fold -----------------------------------------------------------------------------

    #[test]
    fn two_phones_merge_to_the_same_state_whatever_order_events_arrive_in() {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(3 * MINUTE, A::Arrive { position: None });
        let mut events = s.events.clone();
        events.reverse();
        events.push(events[1].clone());
        let merged = fold(CaseKind::Alarm, t0(), &events);
        assert_eq!(merged, s.fold());
        assert_eq!(merged.state, CaseState::OnScene);
        assert_eq!(merged.applied.len(), 3, "the duplicate is applied once");
        assert!(merged.flagged.is_empty());
    }

    #[test]
    fn the_same_millisecond_on_two_phones_is_ordered_by_device() {
        // Both phones stamp "resolve" at the same ms; the device id decides, everywhere.
        let mut base = Story::new(CaseKind::PatrolFinding, Severity::Low, t0());
        let mut other = base.clone().on_device(0xD0);
        let mine = base.after(MINUTE, A::Resolve);
        let theirs = other.after(MINUTE, A::Resolve);
        let mut events = base.events.clone();
        events.extend(other.events.iter().cloned());
        let f = fold(CaseKind::PatrolFinding, t0(), &events);
        // Device 0xD0 sorts before 0xD1: its event wins, ours is flagged, on every phone.
        assert_eq!(f.applied, vec![theirs]);
        assert_eq!(f.flagged[0].event_id, mine);
        events.reverse();
        assert_eq!(fold(CaseKind::PatrolFinding, t0(), &events), f);
    }

    #[test]
    fn a_step_from_a_state_the_case_is_no_longer_in_is_flagged_after_a_merge() {
        // Offline, the gridworker logged a fix while the dispatcher re-assigned; the dispatcher
        // then (seeing the case still assigned) set a new deadline after the fix's stamp.
        let mut s = Story::new(CaseKind::Hazard, Severity::Low, t0());
        s.after(
            HOUR,
            A::Assign {
                assignee: Some(id(1)),
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Fix);
        let late = s.after(
            DAY + 1,
            A::Assign {
                assignee: Some(id(2)),
                deadline_ms: None,
            },
        );
        let f = s.fold();
        assert_eq!(f.state, CaseState::Fixed);
        assert_eq!(f.assignee, Some(id(1)));
        assert_eq!(f.flagged.len(), 1);
        assert_eq!(f.flagged[0].event_id, late);
        assert_eq!(
            f.flagged[0].reason,
            "cannot assign: the hazard is fixed; only a hazard that is reported or assigned can \
             assign"
        );
    }

    #[test]
    fn fold_until_shows_the_case_as_it_stood_then() {
        let mut s = Story::new(CaseKind::Hazard, Severity::Low, t0());
        s.after(
            HOUR,
            A::Assign {
                assignee: None,
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Fix);
        let then = fold_until(CaseKind::Hazard, t0(), &s.events, t0() + DAY - 1);
        assert_eq!(then.state, CaseState::Assigned);
        let at = fold_until(CaseKind::Hazard, t0(), &s.events, t0() + DAY);
        assert_eq!(
            at.state,
            CaseState::Fixed,
            "an event exactly at the cut-off is included"
        );
    }

    #[test]
    fn a_case_with_no_events_is_in_its_initial_state_since_opening() {
        for kind in CaseKind::ALL {
            let f = fold(kind, t0(), &[]);
            assert_eq!(f, CaseFold::new(kind, t0()));
            assert_eq!(f.state, initial_state(kind));
            assert_eq!(f.state_since_ms, t0());
        }
    }

    // -- properties ---------------------------------------------------------------------------

    /// Any step of any kind, with varied payloads (many will not apply: that is the point).
    fn action_from(which: u8, flag: bool, a: usize, b: usize) -> CaseAction {
        let la = DefenceLevel::ALL[a % 4];
        let lb = DefenceLevel::ALL[b % 4];
        let text = if flag {
            "理由".to_string()
        } else {
            String::new()
        };
        match which % 22 {
            0 => A::Accept,
            1 => A::ReviewAssign {
                assignee: flag.then(|| id(a as u128)),
                deadline_ms: Some(b as u64),
            },
            2 => A::Handle,
            3 => A::CompletionReview,
            4 => A::SendBack { reason: text },
            5 => A::CallBack { satisfied: flag },
            6 => A::Close,
            7 => A::Dispatch {
                station_id: id(b as u128),
            },
            8 => A::Acknowledge,
            9 => A::EnRoute { position: None },
            10 => A::Arrive {
                position: flag.then(|| pos(30.0, 120.0)),
            },
            11 => A::Resolve,
            12 => A::Review,
            13 => A::Assign {
                assignee: Some(id(a as u128)),
                deadline_ms: flag.then_some(5),
            },
            14 => A::Fix,
            15 => A::Recheck { passed: flag },
            16 => A::Mediate { level: la },
            17 => A::Escalate {
                to: lb,
                reason: "升级".into(),
            },
            18 => A::Settle {
                level: la,
                agreement: text,
            },
            19 => A::NotSettled {
                level: lb,
                reason: "未果".into(),
            },
            20 => A::Note { text },
            _ => A::Photo {
                attachment: None,
                uri: Some("blob:1".into()),
            },
        }
    }

    fn arb_history() -> impl Strategy<Value = (CaseKind, Vec<CaseEvent>)> {
        let step = (
            any::<u8>(),
            any::<bool>(),
            0usize..4,
            0usize..4,
            0u64..12,
            0u128..3,
        );
        (
            prop::sample::select(CaseKind::ALL.to_vec()),
            prop::collection::vec(step, 0..30),
        )
            .prop_map(|(kind, steps)| {
                let events = steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (which, flag, a, b, minute, device))| CaseEvent {
                        id: Id::from_u128(0xE000 + i as u128),
                        case_id: id(0xCA5E),
                        // Few distinct times and devices: plenty of equal physical times.
                        stamp: Stamp::new(Hlc::new(t0() + minute * MINUTE, 0), id(device)),
                        actor: None,
                        action: action_from(which, flag, a, b),
                    })
                    .collect();
                (kind, events)
            })
    }

    proptest! {
        #[test]
        fn the_fold_does_not_depend_on_order_nor_on_duplicates(
            (kind, events, shuffled, dups) in arb_history().prop_flat_map(|(kind, events)| {
                let shuffled = Just(events.clone()).prop_shuffle();
                let dups = prop::collection::vec(any::<prop::sample::Index>(), 0..6);
                (Just(kind), Just(events), shuffled, dups)
            })
        ) {
            let expected = fold(kind, t0(), &events);
            let mut messy = shuffled;
            if !events.is_empty() {
                for d in &dups {
                    messy.push(events[d.index(events.len())].clone());
                }
            }
            prop_assert_eq!(&fold(kind, t0(), &messy), &expected);
            prop_assert_eq!(expected.applied.len() + expected.flagged.len(), events.len());
        }

        #[test]
        fn the_applied_events_alone_replay_to_the_same_case_without_flags(
            (kind, events) in arb_history()
        ) {
            let full = fold(kind, t0(), &events);
            let applied: Vec<CaseEvent> =
                events.iter().filter(|e| full.applied.contains(&e.id)).cloned().collect();
            let replay = fold(kind, t0(), &applied);
            prop_assert!(replay.flagged.is_empty());
            prop_assert_eq!(CaseFold { flagged: Vec::new(), ..full }, replay);
        }

        #[test]
        fn every_state_reached_belongs_to_the_kind(
            (kind, events) in arb_history()
        ) {
            let f = fold(kind, t0(), &events);
            prop_assert!(CaseState::all_for(kind).contains(&f.state));
            for flagged in &f.flagged {
                prop_assert!(flagged.reason.starts_with("cannot "));
            }
        }
    }
}
