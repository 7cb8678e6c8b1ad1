//! The [`Place`] of a stored record: its scope key as area ids, the building it belongs to, the
//! station serving that building and, for a case, the facts its events give (where an alarm
//! was dispatched, how far a dispute went). The scope rules in `gridwork_domain::scope` decide
//! from it who sees the record and who may change it.

use std::borrow::Borrow;

use crate::ids::Id;
use crate::merge::RecordState;
use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::scope::{CaseFacts, Place};
use crate::workflow::CaseEvent;

use super::scope_key::{link, scope_key};

/// The place of `state`, following links with `lookup`; `events` are the case's events (empty
/// for other kinds).
pub fn locate<E, R: Borrow<RecordState>>(
    state: &RecordState,
    events: &[CaseEvent],
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
) -> Result<Place, E> {
    let mut place = Place::unresolved(state.kind, state.id);
    if let Some(key) = scope_key(state, lookup)? {
        place.areas = Place::areas_from_key(&key).unwrap_or_default();
    }
    place.building = match state.kind {
        EntityKind::Building => Some(state.id),
        EntityKind::Household | EntityKind::PatrolVisit | EntityKind::Case => {
            link(state, "building_id")
        }
        EntityKind::Resident | EntityKind::Registration => match link(state, "household_id") {
            Some(h) => lookup(h)?
                .filter(|h| h.borrow().kind == EntityKind::Household)
                .and_then(|h| link(h.borrow(), "building_id")),
            None => None,
        },
        _ => None,
    };
    place.station = match (state.kind, place.building) {
        (EntityKind::Station, _) => Some(state.id),
        (EntityKind::Building, _) => link(state, "station_id"),
        (_, Some(b)) => lookup(b)?
            .filter(|b| b.borrow().kind == EntityKind::Building)
            .and_then(|b| link(b.borrow(), "station_id")),
        _ => None,
    };
    if state.kind == EntityKind::Case {
        let kind = state
            .fields
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(CaseKind::parse);
        // A case whose facts have not arrived yet (its events came first) is treated as a
        // patrol finding: nobody outside its area sees it until its kind is known.
        place.case = Some(CaseFacts::from_events(
            kind.unwrap_or(CaseKind::PatrolFinding),
            events,
        ));
    }
    Ok(place)
}

/// Whether a record's move changes where the records hanging from it sit (its areas, its
/// building or its station; a case's facts concern the case alone): then their places are
/// recomputed in the same push.
pub fn moved(before: &Place, after: &Place) -> bool {
    before.areas != after.areas
        || before.building != after.building
        || before.station != after.station
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::hlc::{Hlc, Stamp};
    use crate::workflow::CaseAction;
    use serde_json::json;

    use super::*;

    fn record(kind: EntityKind, fields: serde_json::Value) -> RecordState {
        let mut r = RecordState::new(kind, crate::ids::test_id());
        r.fields = fields.as_object().cloned().unwrap_or_default();
        r
    }

    #[test]
    fn a_resident_sits_in_its_buildings_grid_and_an_alarm_knows_its_station() {
        let grid = record(EntityKind::Area, json!({ "parent_id": null }));
        let station = record(EntityKind::Station, json!({ "area_id": grid.id }));
        let building = record(
            EntityKind::Building,
            json!({ "grid_id": grid.id, "station_id": station.id }),
        );
        let household = record(EntityKind::Household, json!({ "building_id": building.id }));
        let resident = record(
            EntityKind::Resident,
            json!({ "household_id": household.id }),
        );
        let alarm = record(
            EntityKind::Case,
            json!({ "kind": "alarm", "area_id": grid.id, "building_id": building.id }),
        );
        let all: HashMap<Id, RecordState> = [&grid, &station, &building, &household]
            .into_iter()
            .map(|r| (r.id, r.clone()))
            .collect();
        let mut lookup = |id: Id| Ok::<_, ()>(all.get(&id).cloned());

        let p = locate(&resident, &[], &mut lookup).unwrap();
        assert_eq!(p.areas, vec![grid.id]);
        assert_eq!(p.building, Some(building.id));
        assert_eq!(p.station, Some(station.id));

        let dispatch = CaseEvent {
            id: crate::ids::test_id(),
            case_id: alarm.id,
            stamp: Stamp::new(Hlc::new(1_795_000_000_000, 0), crate::ids::test_id()),
            actor: None,
            action: CaseAction::Dispatch {
                station_id: station.id,
            },
        };
        let p = locate(&alarm, &[dispatch], &mut lookup).unwrap();
        let facts = p.case.unwrap();
        assert_eq!(facts.kind, CaseKind::Alarm);
        assert_eq!(facts.dispatched_to, vec![station.id]);
    }
}
