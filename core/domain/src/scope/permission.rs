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
use crate::workflow::case_event::STEP_NAMES;

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

    fn deny(reason: Denial) -> Decision {
        Decision::Deny(reason.to_string())
    }
}

/// Why a rule refused a change: a stable code ([`Denial::code`]) with its parts as stable codes
/// ([`Denial::args`]: a role, a record kind, a step), and the rule's English sentence
/// ([`Display`](std::fmt::Display)), which is what [`Decision::Deny`] carries, the server sends
/// in a rejection and the bindings give the app. [`Denial::parse`] finds the denial again from
/// that sentence, so that a reason that came over the wire or out of the store is shown in the
/// reader's language (`deny-` and the code in the catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// `areas_admin_only`: areas are managed by an admin.
    AreasAdminOnly,
    /// `head_hazards_only`: a building head reports hazards (and alarms), no other case.
    HeadHazardsOnly,
    /// `crew_alarms_only`: a fire crew writes no records.
    CrewAlarmsOnly,
    /// `mediator_disputes_only`: a mediator writes no records.
    MediatorDisputesOnly,
    /// `role_may_not_change`: the role writes no record of this kind.
    RoleMayNotChange { role: Role, kind: EntityKind },
    /// `no_delete`: the role archives rather than deletes.
    NoDelete { role: Role },
    /// `not_placed_yet`: the server does not know where the record is yet.
    NotPlacedYet { kind: EntityKind },
    /// `outside_reach`: the record is outside the role's areas or buildings (a fire crew's or a
    /// mediator's reach reads as an admin's: "your areas").
    OutsideReach { kind: EntityKind, role: Role },
    /// `command_centre_only`: a step only the command centre takes.
    CommandCentreOnly { step: &'static str },
    /// `head_annotates_only`: a building head adds notes and photos to a case, no steps.
    HeadAnnotatesOnly,
    /// `not_your_alarm`: the case is no alarm dispatched to the crew's station.
    NotYourAlarm,
    /// `crew_steps_only`: a step that is not a fire crew's.
    CrewStepsOnly { step: &'static str },
    /// `not_your_dispute`: the case is no dispute escalated to the mediator's line.
    NotYourDispute,
    /// `mediator_steps_only`: a step that is not a mediator's.
    MediatorStepsOnly { step: &'static str },
    /// `head_registers_own_building`: a tenant from another building.
    HeadRegistersOwnBuilding,
}

impl Denial {
    /// The stable code (`command_centre_only`).
    pub fn code(&self) -> &'static str {
        match self {
            Denial::AreasAdminOnly => "areas_admin_only",
            Denial::HeadHazardsOnly => "head_hazards_only",
            Denial::CrewAlarmsOnly => "crew_alarms_only",
            Denial::MediatorDisputesOnly => "mediator_disputes_only",
            Denial::RoleMayNotChange { .. } => "role_may_not_change",
            Denial::NoDelete { .. } => "no_delete",
            Denial::NotPlacedYet { .. } => "not_placed_yet",
            Denial::OutsideReach { .. } => "outside_reach",
            Denial::CommandCentreOnly { .. } => "command_centre_only",
            Denial::HeadAnnotatesOnly => "head_annotates_only",
            Denial::NotYourAlarm => "not_your_alarm",
            Denial::CrewStepsOnly { .. } => "crew_steps_only",
            Denial::NotYourDispute => "not_your_dispute",
            Denial::MediatorStepsOnly { .. } => "mediator_steps_only",
            Denial::HeadRegistersOwnBuilding => "head_registers_own_building",
        }
    }

    /// The denial's parts, each a stable code: `role` ([`Role::as_str`]), `kind`
    /// ([`EntityKind::as_str`]), `step` ([`CaseAction::name`]).
    pub fn args(&self) -> Vec<(&'static str, &'static str)> {
        match *self {
            Denial::RoleMayNotChange { role, kind } | Denial::OutsideReach { kind, role } => {
                vec![("role", role.as_str()), ("kind", kind.as_str())]
            }
            Denial::NoDelete { role } => vec![("role", role.as_str())],
            Denial::NotPlacedYet { kind } => vec![("kind", kind.as_str())],
            Denial::CommandCentreOnly { step }
            | Denial::CrewStepsOnly { step }
            | Denial::MediatorStepsOnly { step } => vec![("step", step)],
            _ => vec![],
        }
    }

    /// The denial in `lang`'s words, from the catalogue: `deny-` and the code (dashed), with its
    /// parts in words (a role and whose reach it is, a record kind, a step).
    pub fn words(&self, lang: gridwork_i18n::Lang) -> String {
        let dashed = |code: &str| code.replace('_', "-");
        let word = |prefix: &str, code: &str| {
            lang.get(&format!("{prefix}-{code}"))
                .unwrap_or_else(|| code.to_string())
        };
        let mut args: Vec<(&str, String)> = vec![];
        for (name, value) in self.args() {
            match name {
                "role" => {
                    args.push(("role", lang.t(&format!("deny-role-{}", dashed(value)))));
                    args.push(("whose", lang.t(&format!("deny-whose-{}", dashed(value)))));
                }
                "kind" => args.push(("kind", word("record", value))),
                _ => args.push((name, word(name, value))),
            }
        }
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lang.tr(&format!("deny-{}", dashed(self.code())), &args)
    }

    /// Every denial the rules can give (each code with each of its parts).
    pub fn all() -> Vec<Denial> {
        let mut all = vec![
            Denial::AreasAdminOnly,
            Denial::HeadHazardsOnly,
            Denial::CrewAlarmsOnly,
            Denial::MediatorDisputesOnly,
            Denial::HeadAnnotatesOnly,
            Denial::NotYourAlarm,
            Denial::NotYourDispute,
            Denial::HeadRegistersOwnBuilding,
        ];
        for role in Role::ALL {
            all.push(Denial::NoDelete { role });
            for kind in EntityKind::ALL {
                all.push(Denial::RoleMayNotChange { role, kind });
                // A fire crew and a mediator are refused by their own rules before their reach
                // is asked; their reach would read as an admin's ("your areas").
                if !matches!(role, Role::FireCrew | Role::Mediator) {
                    all.push(Denial::OutsideReach { kind, role });
                }
            }
        }
        for kind in EntityKind::ALL {
            all.push(Denial::NotPlacedYet { kind });
        }
        for step in STEP_NAMES {
            all.push(Denial::CommandCentreOnly { step });
            all.push(Denial::CrewStepsOnly { step });
            all.push(Denial::MediatorStepsOnly { step });
        }
        all
    }

    /// The denial whose English sentence is `reason` (as [`Decision::Deny`] carries it), if a
    /// rule gives it.
    pub fn parse(reason: &str) -> Option<Denial> {
        Denial::all().into_iter().find(|d| d.to_string() == reason)
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = |step: &str| crate::workflow::case_event::action_verb(step);
        match *self {
            Denial::AreasAdminOnly => f.write_str("areas are managed by an admin"),
            Denial::HeadHazardsOnly => {
                f.write_str("a building head may report hazards, not other cases")
            }
            Denial::CrewAlarmsOnly => {
                f.write_str("a fire crew only adds steps to the alarms dispatched to its station")
            }
            Denial::MediatorDisputesOnly => {
                f.write_str("a mediator only adds steps to the disputes they work")
            }
            Denial::RoleMayNotChange { role, kind } => write!(
                f,
                "a {} may not change a {}",
                role_words(role),
                kind.as_str()
            ),
            Denial::NoDelete { role } => write!(
                f,
                "a {} may not delete records (archive them instead)",
                role_words(role)
            ),
            Denial::NotPlacedYet { kind } => write!(
                f,
                "the server does not know where this {} is yet (its building or area has not \
                 arrived): send that first",
                kind.as_str()
            ),
            Denial::OutsideReach { kind, role } => {
                let whose = match role {
                    Role::BuildingHead => "your building(s)",
                    Role::Gridworker => "your grid(s)",
                    Role::Dispatcher => "your subdistrict",
                    _ => "your areas",
                };
                write!(f, "this {} is outside {whose}", kind.as_str())
            }
            Denial::CommandCentreOnly { step } => {
                write!(f, "only the command centre may {} a case", verb(step))
            }
            Denial::HeadAnnotatesOnly => f.write_str(
                "a building head may add notes and photos but not change a case's status",
            ),
            Denial::NotYourAlarm => {
                f.write_str("this case is not an alarm dispatched to your station")
            }
            Denial::CrewStepsOnly { step } => write!(
                f,
                "a fire crew may acknowledge, set off, arrive and resolve, not {step}"
            ),
            Denial::NotYourDispute => f.write_str(
                "this case is not a dispute escalated to your line of defence in your area",
            ),
            Denial::MediatorStepsOnly { step } => {
                write!(f, "a mediator works disputes; they may not {}", verb(step))
            }
            Denial::HeadRegistersOwnBuilding => f.write_str(
                "a building head may register only residents of its own building's households",
            ),
        }
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
                return Decision::deny(Denial::NoDelete { role: view.role });
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
        _ => Decision::deny(Denial::HeadRegistersOwnBuilding),
    }
}

/// Which kinds of record a role may write at all.
fn may_write_kind(role: Role, place: &Place) -> Result<(), Denial> {
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
        (_, EntityKind::Area) => Denial::AreasAdminOnly,
        (Role::BuildingHead, EntityKind::Case) => Denial::HeadHazardsOnly,
        (Role::FireCrew, _) => Denial::CrewAlarmsOnly,
        (Role::Mediator, _) => Denial::MediatorDisputesOnly,
        (role, kind) => Denial::RoleMayNotChange { role, kind },
    })
}

/// Why the record at `place` is beyond the user's reach for writing, if it is.
fn out_of_reach(view: &ScopeView, place: &Place) -> Option<Denial> {
    if view.is_everything() {
        return None;
    }
    if !place.is_resolved() {
        return Some(Denial::NotPlacedYet { kind: place.kind });
    }
    let inside = match view.role {
        Role::Admin | Role::Gridworker | Role::Dispatcher => view.covers_path(&place.areas),
        Role::BuildingHead => place.building.is_some_and(|b| view.holds(b)),
        Role::FireCrew | Role::Mediator => false,
    };
    (!inside).then_some(Denial::OutsideReach {
        kind: place.kind,
        role: view.role,
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
                return Decision::deny(Denial::CommandCentreOnly { step });
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
                Decision::deny(Denial::HeadAnnotatesOnly)
            }
        }
        Role::FireCrew => {
            if kind != Some(CaseKind::Alarm) || !visible(view, case) {
                return Decision::deny(Denial::NotYourAlarm);
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
                Decision::deny(Denial::CrewStepsOnly { step })
            }
        }
        Role::Mediator => {
            if kind != Some(CaseKind::Dispute) || !visible(view, case) {
                return Decision::deny(Denial::NotYourDispute);
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
                Decision::deny(Denial::MediatorStepsOnly { step })
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
    fn every_denial_has_a_code_and_is_found_again_from_its_sentence() {
        let all = Denial::all();
        assert!(all.len() > 150, "{}", all.len());
        let mut sentences = std::collections::HashSet::new();
        for d in &all {
            let sentence = d.to_string();
            assert!(
                sentences.insert(sentence.clone()),
                "two denials say {sentence:?}"
            );
            assert_eq!(Denial::parse(&sentence), Some(*d), "{sentence}");
            assert!(!d.code().is_empty() && d.code().is_ascii());
        }
        // A step's words in a sentence are the step's, never the fallback.
        for step in STEP_NAMES {
            assert_ne!(
                crate::workflow::case_event::action_verb(step),
                "take this step",
                "{step}"
            );
        }
        // Every step `CaseAction::name` gives is in the list (read from its source).
        let source = include_str!("../workflow/case_event.rs");
        let body = &source[source.find("pub fn name(&self)").expect("name")..];
        let body = &body[..body.find("pub fn verb").expect("verb")];
        let names: Vec<&str> = body
            .split("=> \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(names.len(), STEP_NAMES.len(), "{names:?}");
        for name in names {
            assert!(STEP_NAMES.contains(&name), "{name}");
        }
        assert_eq!(Denial::parse("a reason of no rule"), None);
        assert_eq!(
            Denial::parse("only the command centre may accept a case"),
            Some(Denial::CommandCentreOnly { step: "accept" })
        );
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
