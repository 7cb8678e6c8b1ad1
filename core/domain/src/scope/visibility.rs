//! Whether a user may see a record: the one read rule behind every pull, snapshot and long poll.

use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::scope::{Place, ScopeView};
use crate::sync::Role;

/// Whether the user of `view` may hold the record at `place` on their phone.
///
/// - admin: records under their areas (everything with an empty scope);
/// - gridworker, dispatcher: records under their grids / subdistrict;
/// - building head: their buildings and the households, residents, registrations and cases in
///   them;
/// - fire crew: their station, alarms dispatched to it, the buildings assigned to it with
///   their households and residents (ID numbers removed, see [`crate::scope::redact`]), and
///   the building of every alarm dispatched to it (the building alone: [`Place::responders`]);
/// - mediator: disputes in their area that reached their line of defence, and the areas under
///   theirs (names);
/// - everyone: the areas above their scope and the stations serving them (names, dispatch).
///
/// A record whose place is not resolved is visible to nobody but an all-seeing admin.
///
/// ```
/// use gridwork_domain::scope::{Place, ScopeView, visible};
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::sync::Role;
/// use uuid::Uuid;
///
/// let (district, grid, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
/// let worker = ScopeView::new(Role::Gridworker, vec![grid], vec![vec![district, grid]]);
/// let mut household = Place::unresolved(EntityKind::Household, Uuid::from_u128(4));
/// household.areas = vec![district, grid];
/// assert!(visible(&worker, &household));
/// household.areas = vec![district, other];
/// assert!(!visible(&worker, &household));
/// ```
pub fn visible(view: &ScopeView, place: &Place) -> bool {
    if view.is_everything() {
        return true;
    }
    if !place.is_resolved() {
        return false;
    }
    if matches!(place.kind, EntityKind::Area | EntityKind::Station) && view.is_above(&place.areas) {
        return true;
    }
    match view.role {
        Role::Admin | Role::Gridworker | Role::Dispatcher => view.covers_path(&place.areas),
        Role::BuildingHead => {
            matches!(
                place.kind,
                EntityKind::Building
                    | EntityKind::Household
                    | EntityKind::Resident
                    | EntityKind::Registration
                    | EntityKind::Case
            ) && place.building.is_some_and(|b| view.holds(b))
        }
        Role::FireCrew => match place.kind {
            EntityKind::Station => view.holds(place.id),
            EntityKind::Case => place.case.as_ref().is_some_and(|c| {
                c.kind == CaseKind::Alarm && c.dispatched_to.iter().any(|s| view.holds(*s))
            }),
            // The building of an alarm dispatched to the crew, whichever station it is
            // assigned to; its households and residents only when it is the crew's own.
            EntityKind::Building => {
                place.station.is_some_and(|s| view.holds(s))
                    || place.responders.iter().any(|s| view.holds(*s))
            }
            EntityKind::Household | EntityKind::Resident => {
                place.station.is_some_and(|s| view.holds(s))
            }
            _ => false,
        },
        Role::Mediator => {
            // The area tree under their area, names only: a mediator's phone names the grid a
            // dispute is in and judges, as the server does, whether it lies in their area.
            if place.kind == EntityKind::Area {
                return view.covers_path(&place.areas);
            }
            let Some(case) = place.case.as_ref() else {
                return false;
            };
            let Some(reached) = case.dispute_level else {
                return false;
            };
            case.kind == CaseKind::Dispute
                && view.anchors.iter().any(|anchor| {
                    anchor.last().is_some_and(|a| place.is_under(*a))
                        && reached >= ScopeView::mediator_level(anchor.len())
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::test_support::City;
    use crate::workflow::DefenceLevel;

    #[test]
    fn a_gridworker_sees_their_grid_and_the_areas_above_it_but_not_the_next_grid() {
        let c = City::new();
        let v = c.gridworker();
        assert!(visible(&v, &c.household(c.grid_a)));
        assert!(visible(&v, &c.resident(c.grid_a)));
        assert!(!visible(&v, &c.household(c.grid_b)));
        assert!(visible(&v, &c.area(&c.path(c.community))));
        assert!(visible(&v, &c.station(c.community)));
        assert!(!visible(&v, &c.area(&c.path(c.grid_b))), "a sibling grid");
    }

    #[test]
    fn a_dispatcher_sees_the_whole_subdistrict() {
        let c = City::new();
        let v = c.dispatcher();
        assert!(visible(&v, &c.household(c.grid_a)));
        assert!(visible(&v, &c.household(c.grid_b)));
        assert!(!visible(&v, &c.household(c.grid_elsewhere)));
    }

    #[test]
    fn a_building_head_sees_only_their_building() {
        let c = City::new();
        let v = c.building_head();
        assert!(visible(
            &v,
            &c.in_building(EntityKind::Household, c.building_a)
        ));
        assert!(visible(
            &v,
            &c.in_building(EntityKind::Registration, c.building_a)
        ));
        assert!(!visible(&v, &c.household(c.grid_a)), "a neighbour building");
        assert!(!visible(
            &v,
            &c.in_building(EntityKind::PatrolVisit, c.building_a)
        ));
    }

    #[test]
    fn a_crew_sees_alarms_dispatched_to_it_and_its_buildings_only() {
        let c = City::new();
        let v = c.crew();
        assert!(visible(&v, &c.alarm(Some(c.station_id))));
        assert!(!visible(&v, &c.alarm(None)), "not yet dispatched");
        assert!(!visible(&v, &c.hazard(c.grid_a)));
        assert!(visible(
            &v,
            &c.in_building(EntityKind::Resident, c.building_a)
        ));
        assert!(!visible(
            &v,
            &c.in_building(EntityKind::Registration, c.building_a)
        ));
        assert!(!visible(&v, &c.household(c.grid_b)));
    }

    #[test]
    fn a_crew_sees_the_building_of_an_alarm_dispatched_to_it_but_not_what_is_inside() {
        let c = City::new();
        let v = c.crew();
        // Another station's building, the alarm sent here (the nearest station, or the
        // dispatcher's choice): the crew must find the building.
        let theirs = c.building(None, vec![crate::ids::test_id(), c.station_id]);
        assert!(visible(&v, &theirs));
        assert!(!visible(&c.crew_of(crate::ids::test_id()), &theirs));
        let mut household = c.household(c.grid_b);
        household.building = Some(theirs.id);
        household.station = theirs.station;
        household.responders = theirs.responders.clone();
        assert!(
            !visible(&v, &household),
            "its households stay its own crew's"
        );
        let mut resident = household.clone();
        resident.kind = EntityKind::Resident;
        assert!(!visible(&v, &resident));
        // No alarm sent here: not ours.
        assert!(!visible(&v, &c.building(None, vec![crate::ids::test_id()])));
        // Our own building, with or without alarms.
        assert!(visible(&v, &c.building(Some(c.station_id), vec![])));
        // Other roles do not gain buildings through alarms.
        let worker = c.gridworker();
        assert!(!visible(&worker, &theirs), "grid B is not the gridworker's");
    }

    #[test]
    fn a_mediator_sees_disputes_that_reached_their_line_in_their_area() {
        let c = City::new();
        let v = c.mediator();
        assert!(!visible(
            &v,
            &c.dispute(c.grid_a, Some(DefenceLevel::Gridworker))
        ));
        assert!(visible(
            &v,
            &c.dispute(c.grid_a, Some(DefenceLevel::VillageSecretary))
        ));
        assert!(!visible(
            &v,
            &c.dispute(c.grid_elsewhere, Some(DefenceLevel::VillageSecretary))
        ));
        assert!(!visible(&v, &c.hazard(c.grid_a)));
        assert!(!visible(&v, &c.household(c.grid_a)));
    }

    #[test]
    fn nobody_sees_an_unresolved_record_and_an_empty_scope_sees_nothing_but_for_an_admin() {
        let c = City::new();
        let mut orphan = c.household(c.grid_a);
        orphan.areas.clear();
        assert!(!visible(&c.dispatcher(), &orphan));
        let nobody = ScopeView::new(Role::Gridworker, vec![], vec![]);
        assert!(!visible(&nobody, &c.household(c.grid_a)));
        let root = ScopeView::new(Role::Admin, vec![], vec![]);
        assert!(visible(&root, &orphan));
    }
}
