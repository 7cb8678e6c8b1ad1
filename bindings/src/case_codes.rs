//! Case states and case steps as enums (issue 21, ADR 0032): an app switches on them and
//! localizes them by their stable codes (`case_state_code`, `case_step_code`: the names the
//! server and the core use, e.g. `"en_route"`), instead of comparing strings.

use gridwork_domain::workflow::{CaseAction as CoreAction, CaseState as CoreState};

use crate::cases::{CaseAction, DefenceLevel};

/// Declares a fieldless enum with each variant's stable code, the two lookups between them,
/// and the list of all variants (so a test can check every code round-trips).
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable code (the core's and the server's name).
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The variant of a code; `None` for an unknown code.
            pub fn from_code(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

coded_enum! {
    /// Where a case is in its lifecycle. A dispute's states (`Mediating`, `Settled`,
    /// `NotSettled`) carry their line of defence apart (`CaseView.defenceLevel`).
    CaseState {
        /// 12345: came in from the platform, not yet accepted.
        Received = "received",
        /// 12345: 签收.
        Accepted = "accepted",
        /// Someone must handle it (a hotline case after 审核交办, a hazard awaiting its fix).
        Assigned = "assigned",
        /// 12345: handled, awaiting the completion review.
        Handled = "handled",
        /// 12345: the completion review passed, awaiting the call-back.
        CompletionReviewed = "completion_reviewed",
        /// 12345: called back, awaiting closing.
        CalledBack = "called_back",
        /// Closed (hotline, hazard, dispute, patrol finding).
        Closed = "closed",
        /// An alarm or incident raised, not yet sent to anyone.
        Raised = "raised",
        /// Sent to a micro fire station or a responder.
        Dispatched = "dispatched",
        /// The crew has received it.
        Acknowledged = "acknowledged",
        /// The crew is on its way.
        EnRoute = "en_route",
        /// The crew is on scene.
        OnScene = "on_scene",
        /// Dealt with (an alarm or a patrol finding).
        Resolved = "resolved",
        /// The command centre has reviewed the alarm: closed.
        Reviewed = "reviewed",
        /// A hazard found, not yet assigned.
        Reported = "reported",
        /// Reported rectified, awaiting its recheck.
        Fixed = "fixed",
        /// A dispute recorded, mediation not started.
        Logged = "logged",
        /// A dispute being mediated at a line of defence.
        Mediating = "mediating",
        /// A dispute settled at a line of defence.
        Settled = "settled",
        /// Mediation at a line of defence failed.
        NotSettled = "not_settled",
        /// A patrol finding noticed, nothing done yet.
        Open = "open",
    }
}

coded_enum! {
    /// A step of a case's lifecycle without what it carries: what `availableActions` lists
    /// (the buttons to show) and a deadline awaits. Record a step with the `CaseAction` of the
    /// same name.
    CaseStep {
        Accept = "accept",
        ReviewAssign = "review_assign",
        Handle = "handle",
        CompletionReview = "completion_review",
        SendBack = "send_back",
        CallBack = "call_back",
        Close = "close",
        Dispatch = "dispatch",
        Acknowledge = "acknowledge",
        EnRoute = "en_route",
        Arrive = "arrive",
        Resolve = "resolve",
        Review = "review",
        Assign = "assign",
        Fix = "fix",
        Recheck = "recheck",
        Mediate = "mediate",
        Escalate = "escalate",
        Settle = "settle",
        NotSettled = "not_settled",
        Note = "note",
        Photo = "photo",
    }
}

/// A core state as the state and its line of defence.
pub(crate) fn state_of(state: &CoreState) -> (CaseState, Option<DefenceLevel>) {
    let code = CaseState::from_code(state.as_str());
    // Every core state has a code here (the test below checks the two lists agree); an
    // unknown one could only come from a newer core, and reads as open.
    (code.unwrap_or(CaseState::Open), state.level())
}

/// A step's name (`CaseAction::name` in the core) as a `CaseStep`.
pub(crate) fn step_of(name: &str) -> Option<CaseStep> {
    CaseStep::from_code(name)
}

/// The stable code of a case state (`"en_route"`, `"mediating"`): a key for the app's own
/// translations, and the name the server and the CLI use.
#[uniffi::export]
pub fn case_state_code(state: CaseState) -> String {
    state.code().to_string()
}

/// The stable code of a case step (`"review_assign"`, `"fix"`).
#[uniffi::export]
pub fn case_step_code(step: CaseStep) -> String {
    step.code().to_string()
}

/// The step a `CaseAction` records, to match it against `availableActions`.
#[uniffi::export]
pub fn case_action_step(action: CaseAction) -> CaseStep {
    // Every action's name is a step's code (checked by the test below).
    match action.to_core() {
        Ok(core) => step_of(core.name()).unwrap_or(CaseStep::Note),
        // An action whose ids do not parse still names its step.
        Err(_) => step_of(&action_name(&action)).unwrap_or(CaseStep::Note),
    }
}

/// The name of an action without converting its payload.
fn action_name(action: &CaseAction) -> String {
    let dummy = match action {
        CaseAction::Dispatch { .. } => CoreAction::Dispatch {
            station_id: gridwork_domain::ids::Id::nil(),
        },
        CaseAction::ReviewAssign { .. } => CoreAction::ReviewAssign {
            assignee: None,
            deadline_ms: None,
        },
        CaseAction::Assign { .. } => CoreAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
        other => {
            return other
                .to_core()
                .map(|c| c.name().to_string())
                .unwrap_or_default();
        }
    };
    dummy.name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwork_domain::model::CaseKind as CoreKind;

    #[test]
    fn every_core_state_has_a_case_state_with_its_code() {
        for kind in [
            CoreKind::Hotline,
            CoreKind::Alarm,
            CoreKind::Incident,
            CoreKind::Hazard,
            CoreKind::Dispute,
            CoreKind::PatrolFinding,
        ] {
            for state in CoreState::all_for(kind) {
                let (mine, level) = state_of(&state);
                assert_eq!(mine.code(), state.as_str(), "{state:?}");
                assert_eq!(level.is_some(), state.level().is_some());
            }
        }
        for state in CaseState::ALL {
            assert_eq!(CaseState::from_code(state.code()), Some(*state));
            assert_eq!(case_state_code(*state), state.code());
        }
        assert_eq!(CaseState::from_code("mediating:gridworker"), None);
    }

    #[test]
    fn every_core_step_is_a_case_step_and_actions_name_their_step() {
        for step in CaseStep::ALL {
            assert_eq!(CaseStep::from_code(step.code()), Some(*step));
        }
        // The core lists every step a case of some kind and state can take.
        for kind in [
            CoreKind::Hotline,
            CoreKind::Alarm,
            CoreKind::Incident,
            CoreKind::Hazard,
            CoreKind::Dispute,
            CoreKind::PatrolFinding,
        ] {
            for state in CoreState::all_for(kind) {
                for name in gridwork_domain::workflow::available_actions(kind, &state) {
                    assert!(step_of(name).is_some(), "{name}");
                }
            }
        }
        assert_eq!(
            case_action_step(CaseAction::Fix),
            CaseStep::Fix,
            "a plain step"
        );
        assert_eq!(
            case_action_step(CaseAction::Dispatch {
                station_id: "not a uuid".into()
            }),
            CaseStep::Dispatch,
            "a step whose id does not parse still names its step"
        );
        assert_eq!(
            case_action_step(CaseAction::Escalate {
                to: DefenceLevel::VillageSecretary,
                reason: "升级".into()
            }),
            CaseStep::Escalate
        );
        assert_eq!(case_step_code(CaseStep::ReviewAssign), "review_assign");
    }
}
