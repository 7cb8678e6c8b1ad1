//! Whether the pushing user's role and scope allow an operation: the operation is turned into a
//! [`Change`] and judged by `gridwork_domain::scope::decide`, the same function the device
//! uses to offer actions. A denial becomes a `forbidden` rejection carrying the rule's reason.

use gridwork_domain::op::{Op, OpBody};
use gridwork_domain::scope::{Change, Decision, Place, ScopeView, decide};
use gridwork_domain::sync::RejectCode;

use super::admit::Rejection;

/// Judges `op` for the user of `view`: `before` is the record's place before the operation
/// (`None` for a new record), `after` its place once merged (for a case event, the case's).
pub fn authorize(
    view: &ScopeView,
    op: &Op,
    before: Option<&Place>,
    after: &Place,
) -> Result<(), Rejection> {
    let change = match &op.body {
        OpBody::Set { .. } => Change::Write { before, after },
        OpBody::Delete => Change::Delete {
            place: before.unwrap_or(after),
        },
        OpBody::CaseEvent { event } => Change::Event {
            case: before.unwrap_or(after),
            action: &event.action,
        },
    };
    match decide(view, change) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) => Err(Rejection::new(RejectCode::Forbidden, reason)),
    }
}

#[cfg(test)]
mod tests {
    use gridwork_domain::hlc::{Hlc, Stamp};
    use gridwork_domain::op::EntityKind;
    use gridwork_domain::sync::Role;
    use gridwork_domain::workflow::{CaseAction, CaseEvent};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_building_head_closing_a_case_is_forbidden_with_the_reason() {
        let (grid, building) = (Uuid::now_v7(), Uuid::now_v7());
        let head = ScopeView::new(Role::BuildingHead, vec![building], vec![vec![grid]]);
        let mut case = Place::unresolved(EntityKind::Case, Uuid::now_v7());
        case.areas = vec![grid];
        case.building = Some(building);
        let stamp = Stamp::new(Hlc::new(1_795_000_000_000, 0), Uuid::now_v7());
        let op = Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case.id,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: Uuid::now_v7(),
                    case_id: case.id,
                    stamp,
                    actor: None,
                    action: CaseAction::Close,
                },
            },
        };
        let r = authorize(&head, &op, Some(&case), &case).unwrap_err();
        assert_eq!(r.code, RejectCode::Forbidden);
        assert!(r.message.contains("status"), "{}", r.message);
    }
}
