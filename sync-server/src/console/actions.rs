//! A dispatcher's steps on a case, written as operations: one case event stamped by the
//! signed-in session's device, pushed through [`Storage::push`] with the user's own view, so the
//! same admission and authorization as a phone's push decide it and the assignee's phone
//! receives it through its long poll.

use std::sync::Mutex;

use gridwork_domain::hlc::{Hlc, HlcClock, Stamp};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::{PushOutcome, Role};
use gridwork_domain::workflow::{CaseAction, CaseEvent};
use sha2::{Digest, Sha256};

use crate::rules::PushContext;
use crate::storage::{Storage, StorageError};

/// The steps the console offers, by name, in the order its buttons show them.
pub const CONSOLE_STEPS: [&str; 9] = [
    "accept",
    "review_assign",
    "assign",
    "dispatch",
    "send_back",
    "completion_review",
    "review",
    "close",
    "note",
];

/// The form of a step.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct StepForm {
    #[serde(default)]
    pub csrf: String,
    pub action: String,
    /// A user id (review-and-assign, assign).
    #[serde(default)]
    pub assignee: String,
    /// A station id (dispatch).
    #[serde(default)]
    pub station: String,
    /// A send-back's reason, a note's text.
    #[serde(default)]
    pub text: String,
}

/// The step a form asks for, or why it cannot be taken.
pub fn step_of(form: &StepForm) -> Result<CaseAction, String> {
    let id =
        |s: &str, what: &str| uuid::Uuid::try_parse(s.trim()).map_err(|_| format!("请选择{what}"));
    let text = form.text.trim();
    Ok(match form.action.as_str() {
        "accept" => CaseAction::Accept,
        "review_assign" => CaseAction::ReviewAssign {
            assignee: Some(id(&form.assignee, "承办人")?),
            deadline_ms: None,
        },
        "assign" => CaseAction::Assign {
            assignee: Some(id(&form.assignee, "承办人")?),
            deadline_ms: None,
        },
        "dispatch" => CaseAction::Dispatch {
            station_id: id(&form.station, "微型消防站")?,
        },
        "send_back" => {
            if text.is_empty() {
                return Err("退回须填写理由".into());
            }
            CaseAction::SendBack {
                reason: text.chars().take(500).collect(),
            }
        }
        "completion_review" => CaseAction::CompletionReview,
        "review" => CaseAction::Review,
        "close" => CaseAction::Close,
        "note" => {
            if text.is_empty() {
                return Err("备注不能为空".into());
            }
            CaseAction::Note {
                text: text.chars().take(2000).collect(),
            }
        }
        _ => return Err("控制台不提供这一步".into()),
    })
}

/// The device a session's steps are stamped by: derived from the session, so two sessions
/// (even of one user, on two server processes) never stamp alike.
pub fn session_device(token_hash: &str) -> DeviceId {
    let digest = Sha256::digest(format!("gridwork-console-device:{token_hash}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The console's hybrid clock (one per server process).
#[derive(Debug)]
pub struct StepClock(Mutex<HlcClock>);

impl Default for StepClock {
    fn default() -> Self {
        StepClock(Mutex::new(HlcClock::new(Hlc::ZERO, 0)))
    }
}

impl StepClock {
    /// A stamp after `latest` (the case's last event, which a phone may have stamped a little
    /// ahead) and after every stamp this process made.
    fn tick(&self, now_ms: u64, latest: Option<Hlc>) -> Hlc {
        let mut clock = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = latest {
            let _ = clock.observe(l, now_ms);
        }
        clock.tick(now_ms).unwrap_or_else(|_| Hlc::new(now_ms, 0))
    }
}

/// Takes `action` on `case` as `user` (with `view`) from the session's device. `Err` with the
/// planner's words when the step is refused.
#[allow(clippy::too_many_arguments)]
pub async fn take_step<S: Storage>(
    storage: &S,
    clock: &StepClock,
    device: DeviceId,
    user: Id,
    view: ScopeView,
    case: Id,
    action: CaseAction,
    now_ms: u64,
) -> Result<Result<(), String>, StorageError> {
    let latest = storage
        .case_events(vec![case])
        .await?
        .iter()
        .map(|e| e.stamp.hlc)
        .max();
    let stamp = Stamp::new(clock.tick(now_ms, latest), device);
    let op = Op {
        id: uuid::Uuid::now_v7(),
        stamp,
        entity: EntityKind::Case,
        entity_id: case,
        body: OpBody::CaseEvent {
            event: CaseEvent {
                id: uuid::Uuid::now_v7(),
                case_id: case,
                stamp,
                actor: Some(user),
                action,
            },
        },
    };
    let ctx = PushContext {
        device,
        user,
        view,
        now_ms,
    };
    let results = storage.push(ctx, vec![op]).await?;
    Ok(match results.into_iter().next().map(|r| r.outcome) {
        Some(PushOutcome::Rejected { message, .. }) => Err(message),
        _ => Ok(()),
    })
}

/// Whether `role` may use the console.
pub fn console_role(role: Role) -> bool {
    matches!(role, Role::Dispatcher | Role::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str) -> StepForm {
        StepForm {
            action: action.into(),
            ..StepForm::default()
        }
    }

    #[test]
    fn forms_become_steps_or_clear_refusals() {
        assert_eq!(step_of(&form("accept")).unwrap(), CaseAction::Accept);
        assert_eq!(step_of(&form("review_assign")).unwrap_err(), "请选择承办人");
        assert_eq!(step_of(&form("send_back")).unwrap_err(), "退回须填写理由");
        assert!(
            step_of(&form("handle")).is_err(),
            "handling is the assignee's"
        );
        let id = uuid::Uuid::now_v7();
        let f = StepForm {
            assignee: id.to_string(),
            ..form("assign")
        };
        assert_eq!(
            step_of(&f).unwrap(),
            CaseAction::Assign {
                assignee: Some(id),
                deadline_ms: None
            }
        );
    }

    #[test]
    fn sessions_stamp_with_devices_of_their_own() {
        assert_ne!(session_device("a"), session_device("b"));
        assert_eq!(session_device("a"), session_device("a"));
    }

    #[test]
    fn the_step_clock_comes_after_a_phone_ahead() {
        let c = StepClock::default();
        let ahead = Hlc::new(10_000, 3);
        let t = c.tick(5_000, Some(ahead));
        assert!(t > ahead);
        assert!(c.tick(5_000, None) > t);
    }
}
