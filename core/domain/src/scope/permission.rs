//! Whether a user may make a change: one function, [`decide`], that the server runs on every
//! pushed operation and the device runs to show only the actions a user may take.
//!
//! A change is allowed when the role may make that kind of change at all and the record sits
//! (before and after the change) where the user's scope reaches. A denial carries a reason for
//! the person: it names the rule, never a value.

use crate::ids::Id;
use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::scope::{Place, ScopeView, visible};
use crate::sync::Role;
use crate::workflow::CaseAction;

/// A change to judge.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Fields set on a record: where it was (`None` for a new record) and where it is after.
    Write {
        before: Option<&'a Place>,
        after: &'a Place,
    },
    /// A tombstone on the record at `place`.
    Delete { place: &'a Place },
    /// A step on the case at `case` (its place before the step).
    Event {
        case: &'a Place,
        action: &'a CaseAction,
    },
}

/// The answer: allowed, or denied with a reason for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        *self == Decision::Allow
    }

    fn deny(reason: impl Into<String>) -> Decision {
        Decision::Deny(reason.into())
    }
}

/// Decides a change for the user of `view`.
///
/// ```
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::scope::{Change, Decision, Place, ScopeView, decide};
/// use gridwork_domain::sync::Role;
/// use gridwork_domain::workflow::CaseAction;
/// use uuid::Uuid;
///
/// let (building, grid) = (Uuid::now_v7(), Uuid::now_v7());
/// let head = ScopeView::new(Role::BuildingHead, vec![building], vec![vec![grid]]);
/// let mut case = Place::unresolved(EntityKind::Case, Uuid::now_v7());
/// case.areas = vec![grid];
/// case.building = Some(building);
/// let close = decide(&head, Change::Event { case: &case, action: &CaseAction::Close });
/// assert!(matches!(close, Decision::Deny(_)));
/// ```
pub fn decide(view: &ScopeView, change: Change<'_>) -> Decision {
    match change {
        Change::Write { before, after } => {
            if let Err(why) = may_write_kind(view.role, after) {
                return Decision::deny(why);
            }
            for place in before.into_iter().chain([after]) {
                if let Some(why) = out_of_reach(view, place) {
                    return Decision::deny(why);
                }
            }
            Decision::Allow
        }
        Change::Delete { place } => {
            if matches!(
                view.role,
                Role::BuildingHead | Role::FireCrew | Role::Mediator
            ) {
                return Decision::deny(format!(
                    "a {} may not delete records (archive them instead)",
                    role_words(view.role)
                ));
            }
            if let Err(why) = may_write_kind(view.role, place) {
                return Decision::deny(why);
            }
            match out_of_reach(view, place) {
                Some(why) => Decision::deny(why),
                None => Decision::Allow,
            }
        }
        Change::Event { case, action } => decide_event(view, case, action),
    }
}

/// Whether the user of `view` may check in (or edit the stay of) a tenant whose own household
/// is in `tenant_building` (`None`: the tenant, or their household, is not known). A building
/// head registers only residents of its own building's households: a person from another
/// building is that building's business. Other roles are held to their areas by [`decide`] on
/// the stay itself.
pub fn decide_tenant(view: &ScopeView, tenant_building: Option<Id>) -> Decision {
    if view.role != Role::BuildingHead {
        return Decision::Allow;
    }
    match tenant_building {
        Some(b) if view.holds(b) => Decision::Allow,
        _ => Decision::deny(
            "a building head may register only residents of its own building's households",
        ),
    }
}

/// Which kinds of record a role may write at all.
fn may_write_kind(role: Role, place: &Place) -> Result<(), String> {
    let kind = place.kind;
    let allowed = match role {
        Role::Admin => true,
        Role::Dispatcher => kind != EntityKind::Area,
        Role::Gridworker => !matches!(kind, EntityKind::Area | EntityKind::Station),
        Role::BuildingHead => match kind {
            EntityKind::Household | EntityKind::Resident | EntityKind::Registration => true,
            // A building head reports hazards, and raises the alarm when their building is on
            // fire (the crew must not wait for the command centre); every other case is
            // someone else's.
            EntityKind::Case => place
                .case
                .as_ref()
                .is_some_and(|c| matches!(c.kind, CaseKind::Hazard | CaseKind::Alarm)),
            _ => false,
        },
        Role::FireCrew | Role::Mediator => false,
    };
    if allowed {
        return Ok(());
    }
    Err(match (role, kind) {
        (_, EntityKind::Area) => "areas are managed by an admin".to_string(),
        (Role::BuildingHead, EntityKind::Case) => {
            "a building head may report hazards, not other cases".to_string()
        }
        (Role::FireCrew, _) => {
            "a fire crew only adds steps to the alarms dispatched to its station".to_string()
        }
        (Role::Mediator, _) => "a mediator only adds steps to the disputes they work".to_string(),
        (role, kind) => format!("a {} may not change a {}", role_words(role), kind.as_str()),
    })
}

/// Why the record at `place` is beyond the user's reach for writing, if it is.
fn out_of_reach(view: &ScopeView, place: &Place) -> Option<String> {
    if view.is_everything() {
        return None;
    }
    if !place.is_resolved() {
        return Some(format!(
            "the server does not know where this {} is yet (its building or area has not \
             arrived): send that first",
            place.kind.as_str()
        ));
    }
    let inside = match view.role {
        Role::Admin | Role::Gridworker | Role::Dispatcher => view.covers_path(&place.areas),
        Role::BuildingHead => place.building.is_some_and(|b| view.holds(b)),
        Role::FireCrew | Role::Mediator => false,
    };
    (!inside).then(|| {
        let whose = match view.role {
            Role::BuildingHead => "your building(s)",
            Role::Gridworker => "your grid(s)",
            Role::Dispatcher => "your subdistrict",
            _ => "your areas",
        };
        format!("this {} is outside {whose}", place.kind.as_str())
    })
}

fn decide_event(view: &ScopeView, case: &Place, action: &CaseAction) -> Decision {
    let kind = case.case.as_ref().map(|c| c.kind);
    let step = action.name();
    match view.role {
        Role::Admin | Role::Dispatcher => match out_of_reach(view, case) {
            Some(why) => Decision::deny(why),
            None => Decision::Allow,
        },
        Role::Gridworker => {
            if let Some(why) = out_of_reach(view, case) {
                return Decision::deny(why);
            }
            if is_command_centre_step(action) {
                return Decision::deny(format!(
                    "only the command centre may {} a case",
                    action.verb()
                ));
            }
            Decision::Allow
        }
        Role::BuildingHead => {
            if let Some(why) = out_of_reach(view, case) {
                return Decision::deny(why);
            }
            let first_dispatch_of_alarm = matches!(action, CaseAction::Dispatch { .. })
                && case
                    .case
                    .as_ref()
                    .is_some_and(|c| c.kind == CaseKind::Alarm && c.dispatched_to.is_empty());
            if action.is_annotation() || first_dispatch_of_alarm {
                Decision::Allow
            } else {
                Decision::deny(
                    "a building head may add notes and photos but not change a case's status",
                )
            }
        }
        Role::FireCrew => {
            if kind != Some(CaseKind::Alarm) || !visible(view, case) {
                return Decision::deny("this case is not an alarm dispatched to your station");
            }
            let crew_step = action.is_annotation()
                || matches!(
                    action,
                    CaseAction::Acknowledge
                        | CaseAction::EnRoute { .. }
                        | CaseAction::Arrive { .. }
                        | CaseAction::Resolve
                );
            if crew_step {
                Decision::Allow
            } else {
                Decision::deny(format!(
                    "a fire crew may acknowledge, set off, arrive and resolve, not {step}"
                ))
            }
        }
        Role::Mediator => {
            if kind != Some(CaseKind::Dispute) || !visible(view, case) {
                return Decision::deny(
                    "this case is not a dispute escalated to your line of defence in your area",
                );
            }
            let mediation = action.is_annotation()
                || matches!(
                    action,
                    CaseAction::Mediate { .. }
                        | CaseAction::Escalate { .. }
                        | CaseAction::Settle { .. }
                        | CaseAction::NotSettled { .. }
                );
            if mediation {
                Decision::Allow
            } else {
                Decision::deny(format!(
                    "a mediator works disputes; they may not {}",
                    action.verb()
                ))
            }
        }
    }
}

/// Steps only the command centre (小脑) takes: accepting and assigning hotline cases, reviews.
fn is_command_centre_step(action: &CaseAction) -> bool {
    matches!(
        action,
        CaseAction::Accept
            | CaseAction::ReviewAssign { .. }
            | CaseAction::CompletionReview
            | CaseAction::Review
    )
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Gridworker => "gridworker",
        Role::BuildingHead => "building head",
        Role::FireCrew => "fire crew",
        Role::Dispatcher => "dispatcher",
        Role::Mediator => "mediator",
        Role::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::CaseFacts;
    use crate::scope::test_support::City;
    use crate::workflow::DefenceLevel;

    fn allowed(view: &ScopeView, change: Change<'_>) -> bool {
        decide(view, change).is_allowed()
    }

    fn write(after: &Place) -> Change<'_> {
        Change::Write {
            before: Some(after),
            after,
        }
    }

    #[test]
    fn a_gridworker_writes_in_their_grid_only_and_cannot_move_a_building_out() {
        let c = City::new();
        let v = c.gridworker();
        assert!(allowed(&v, write(&c.household(c.grid_a))));
        let outside = decide(&v, write(&c.household(c.grid_b)));
        assert_eq!(
            outside,
            Decision::Deny("this household is outside your grid(s)".into())
        );
        let mut before = c.in_building(EntityKind::Building, c.building_a);
        before.areas = c.path(c.grid_a);
        let mut after = before.clone();
        after.areas = c.path(c.grid_b);
        let moved = Change::Write {
            before: Some(&before),
            after: &after,
        };
        assert!(!allowed(&v, moved), "moving it out of reach");
        assert!(allowed(&c.dispatcher(), moved), "a redraw is the centre's");
        assert!(!allowed(&v, write(&c.area(&c.path(c.grid_a)))));
    }

    #[test]
    fn a_building_head_registers_only_residents_of_its_own_building() {
        let c = City::new();
        let v = c.building_head();
        assert!(decide_tenant(&v, Some(c.building_a)).is_allowed());
        let Decision::Deny(why) = decide_tenant(&v, Some(c.grid_b)) else {
            panic!("a resident of another building")
        };
        assert!(why.contains("own building"), "{why}");
        assert!(!decide_tenant(&v, None).is_allowed(), "an unknown tenant");
        assert!(decide_tenant(&c.gridworker(), Some(c.grid_b)).is_allowed());
    }

    #[test]
    fn a_building_head_reports_hazards_and_registers_tenants_but_cannot_move_cases() {
        let c = City::new();
        let v = c.building_head();
        let reg = c.in_building(EntityKind::Registration, c.building_a);
        assert!(allowed(
            &v,
            Change::Write {
                before: None,
                after: &reg
            }
        ));
        let hazard = c.hazard_in(c.building_a);
        assert!(allowed(
            &v,
            Change::Write {
                before: None,
                after: &hazard
            }
        ));
        let note = CaseAction::Note {
            text: "已提醒".into(),
        };
        assert!(allowed(
            &v,
            Change::Event {
                case: &hazard,
                action: &note
            }
        ));
        let fix = decide(
            &v,
            Change::Event {
                case: &hazard,
                action: &CaseAction::Fix,
            },
        );
        assert!(matches!(fix, Decision::Deny(r) if r.contains("status")));
        let building = c.in_building(EntityKind::Building, c.building_a);
        assert!(!allowed(&v, write(&building)));
        assert!(!allowed(&v, Change::Delete { place: &reg }));
        assert!(!allowed(&v, write(&c.household(c.grid_a))), "next door");
    }

    #[test]
    fn a_building_head_raises_the_alarm_in_their_building_and_dispatches_it_once() {
        let c = City::new();
        let v = c.building_head();
        let mut fresh = c.alarm(None);
        fresh.areas = c.path(c.grid_a);
        fresh.building = Some(c.building_a);
        assert!(allowed(
            &v,
            Change::Write {
                before: None,
                after: &fresh
            }
        ));
        let dispatch = CaseAction::Dispatch {
            station_id: c.station_id,
        };
        assert!(allowed(
            &v,
            Change::Event {
                case: &fresh,
                action: &dispatch
            }
        ));
        let mut sent = fresh.clone();
        sent.case = Some(CaseFacts::from_events(CaseKind::Alarm, []));
        sent.case.as_mut().unwrap().dispatched_to = vec![c.station_id];
        let again = decide(
            &v,
            Change::Event {
                case: &sent,
                action: &dispatch,
            },
        );
        assert!(matches!(again, Decision::Deny(r) if r.contains("status")));
    }

    #[test]
    fn a_crew_adds_only_its_steps_to_alarms_dispatched_to_it() {
        let c = City::new();
        let v = c.crew();
        let ours = c.alarm(Some(c.station_id));
        for step in [
            CaseAction::Acknowledge,
            CaseAction::EnRoute { position: None },
            CaseAction::Arrive { position: None },
            CaseAction::Resolve,
        ] {
            assert!(
                allowed(
                    &v,
                    Change::Event {
                        case: &ours,
                        action: &step
                    }
                ),
                "{step:?}"
            );
        }
        assert!(!allowed(
            &v,
            Change::Event {
                case: &ours,
                action: &CaseAction::Review
            }
        ));
        let theirs = c.alarm(Some(c.grid_b));
        assert!(!allowed(
            &v,
            Change::Event {
                case: &theirs,
                action: &CaseAction::Arrive { position: None }
            }
        ));
        assert!(!allowed(&v, write(&ours)));
    }

    #[test]
    fn a_gridworker_cannot_take_the_command_centres_steps() {
        let c = City::new();
        let hazard = c.hazard(c.grid_a);
        let v = c.gridworker();
        assert!(allowed(
            &v,
            Change::Event {
                case: &hazard,
                action: &CaseAction::Fix
            }
        ));
        assert!(!allowed(
            &v,
            Change::Event {
                case: &hazard,
                action: &CaseAction::Review
            }
        ));
        assert!(allowed(
            &c.dispatcher(),
            Change::Event {
                case: &hazard,
                action: &CaseAction::Review
            }
        ));
    }

    #[test]
    fn a_mediator_works_disputes_at_their_line() {
        let c = City::new();
        let v = c.mediator();
        let up = c.dispute(c.grid_a, Some(DefenceLevel::VillageSecretary));
        let settle = CaseAction::Settle {
            level: DefenceLevel::VillageSecretary,
            agreement: "赔偿 200 元".into(),
        };
        assert!(allowed(
            &v,
            Change::Event {
                case: &up,
                action: &settle
            }
        ));
        let low = c.dispute(c.grid_a, Some(DefenceLevel::Gridworker));
        assert!(!allowed(
            &v,
            Change::Event {
                case: &low,
                action: &settle
            }
        ));
        assert!(!allowed(
            &v,
            Change::Event {
                case: &up,
                action: &CaseAction::Close
            }
        ));
    }

    #[test]
    fn an_admin_with_no_scope_may_do_anything_and_anyone_else_nothing() {
        let c = City::new();
        let root = ScopeView::new(Role::Admin, vec![], vec![]);
        assert!(allowed(&root, write(&c.area(&c.path(c.grid_b)))));
        let nobody = ScopeView::new(Role::Dispatcher, vec![], vec![]);
        assert!(!allowed(&nobody, write(&c.household(c.grid_a))));
    }
}
