//! The scope key of a record: the path of area ids from its district down to the area it
//! belongs to, e.g. `/<district>/<subdistrict>/<layer>/<community>/<grid>` for a household in
//! that grid. A device scoped to an area sees a record when the area's id is on the record's
//! path, which a later issue turns into a prefix filter on pulls.
//!
//! Records belong to areas through their links: a building through its grid, a household
//! through its building, a resident or registration through its household, a case through its
//! building (or its area when it has none), a patrol through its area, a patrol visit through
//! its building, a station through the area it serves, an area through its parents.
//!
//! The path is `None` while a link on the way is unknown (an operation that arrived before the
//! record it points to) or broken (a cycle, a link to a record of the wrong kind).

use std::borrow::Borrow;

use crate::ids::Id;
use crate::merge::RecordState;
use crate::op::EntityKind;

/// The most records walked for one key. The area tree has six levels and the longest chain
/// (registration → household → building → grid → ... → district) has nine records; anything
/// longer is a cycle.
const MAX_HOPS: usize = 12;

/// The scope key of `state`, following links with `lookup` (which reads the materialized
/// records; its errors are passed through).
///
/// ```
/// use gridwork_domain::merge::RecordState;
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::scope::scope_key;
/// use uuid::Uuid;
///
/// let district = RecordState::new(EntityKind::Area, Uuid::now_v7());
/// let key = scope_key::<(), RecordState>(&district, &mut |_| Ok(None)).unwrap();
/// assert_eq!(key, Some(format!("/{}", district.id)));
/// ```
pub fn scope_key<E, R: Borrow<RecordState>>(
    state: &RecordState,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
) -> Result<Option<String>, E> {
    let mut hops = 0;
    scope_of(state, lookup, &mut hops)
}

fn scope_of<E, R: Borrow<RecordState>>(
    state: &RecordState,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
    hops: &mut usize,
) -> Result<Option<String>, E> {
    match state.kind {
        EntityKind::Area => area_path(state, lookup, hops),
        EntityKind::Building => linked_area(state, "grid_id", lookup, hops),
        EntityKind::Station | EntityKind::Patrol => linked_area(state, "area_id", lookup, hops),
        EntityKind::Household | EntityKind::PatrolVisit => {
            linked_record(state, "building_id", EntityKind::Building, lookup, hops)
        }
        EntityKind::Resident | EntityKind::Registration => {
            linked_record(state, "household_id", EntityKind::Household, lookup, hops)
        }
        EntityKind::Case => {
            // A case in a building goes where the building goes (it moves with a grid redraw);
            // a case without one (a dispute in a square) belongs to its area.
            if link(state, "building_id").is_some()
                && let Some(key) =
                    linked_record(state, "building_id", EntityKind::Building, lookup, hops)?
            {
                return Ok(Some(key));
            }
            linked_area(state, "area_id", lookup, hops)
        }
    }
}

/// The record `state` points to through `field`, if it has that kind, and its scope.
fn linked_record<E, R: Borrow<RecordState>>(
    state: &RecordState,
    field: &str,
    kind: EntityKind,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
    hops: &mut usize,
) -> Result<Option<String>, E> {
    let Some(id) = link(state, field) else {
        return Ok(None);
    };
    let Some(target) = fetch(id, lookup, hops)? else {
        return Ok(None);
    };
    let target = target.borrow();
    if target.kind != kind {
        return Ok(None);
    }
    scope_of(target, lookup, hops)
}

/// The path of the area `state` points to through `field`.
fn linked_area<E, R: Borrow<RecordState>>(
    state: &RecordState,
    field: &str,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
    hops: &mut usize,
) -> Result<Option<String>, E> {
    linked_record(state, field, EntityKind::Area, lookup, hops)
}

/// `/<root>/.../<area>`, walking `parent_id` up to an area without a parent.
fn area_path<E, R: Borrow<RecordState>>(
    area: &RecordState,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
    hops: &mut usize,
) -> Result<Option<String>, E> {
    let mut chain = vec![area.id];
    let mut parent = link(area, "parent_id");
    while let Some(id) = parent {
        let Some(up) = fetch(id, lookup, hops)? else {
            return Ok(None);
        };
        let up = up.borrow();
        if up.kind != EntityKind::Area || chain.contains(&id) {
            return Ok(None);
        }
        chain.push(id);
        parent = link(up, "parent_id");
    }
    Ok(Some(
        chain.iter().rev().map(|id| format!("/{id}")).collect(),
    ))
}

/// Looks a record up, counting hops so that a cycle of links ends.
fn fetch<E, R: Borrow<RecordState>>(
    id: Id,
    lookup: &mut impl FnMut(Id) -> Result<Option<R>, E>,
    hops: &mut usize,
) -> Result<Option<R>, E> {
    *hops += 1;
    if *hops > MAX_HOPS {
        return Ok(None);
    }
    lookup(id)
}

/// The record `state` hangs from for scopes: the link its scope key follows (a building's
/// grid, a household's building, a resident's household, a case's building or else its area,
/// an area's parent...). When a record moves, everything hanging from it moves with it.
pub fn parent(state: &RecordState) -> Option<Id> {
    match state.kind {
        EntityKind::Area => link(state, "parent_id"),
        EntityKind::Building => link(state, "grid_id"),
        EntityKind::Station | EntityKind::Patrol => link(state, "area_id"),
        EntityKind::Household | EntityKind::PatrolVisit => link(state, "building_id"),
        EntityKind::Resident | EntityKind::Registration => link(state, "household_id"),
        EntityKind::Case => link(state, "building_id").or_else(|| link(state, "area_id")),
    }
}

/// The areas above `state` as far as `lookup` knows them, top first: the scope key's areas when
/// every record on the way is found, else the path cut at the first record missing, that
/// missing one included when the link to it is an area link (a building's grid held by the
/// server, not by a fire crew's phone). A phone holds only its part of the city, so it judges
/// with the part of the path it has; a role whose rule looks higher up is refused by it.
pub fn known_areas<E>(
    state: &RecordState,
    lookup: &mut impl FnMut(Id) -> Result<Option<RecordState>, E>,
) -> Result<Vec<Id>, E> {
    let mut areas = Vec::new();
    let mut current = state.clone();
    for _ in 0..MAX_HOPS {
        if current.kind == EntityKind::Area {
            areas.push(current.id);
        }
        let Some(mut next) = parent(&current) else {
            break;
        };
        let mut found = lookup(next)?;
        // A case whose building is not held still names its area.
        if found.is_none()
            && current.kind == EntityKind::Case
            && let Some(area) = link(&current, "area_id")
        {
            next = area;
            found = lookup(next)?;
            if found.is_none() {
                areas.push(next);
                break;
            }
        }
        match found {
            Some(record) if !areas.contains(&record.id) => current = record,
            Some(_) => break,
            None => {
                if links_to_area(&current) {
                    areas.push(next);
                }
                break;
            }
        }
    }
    areas.reverse();
    Ok(areas)
}

/// Whether the record's [`parent`] link points at an area.
fn links_to_area(state: &RecordState) -> bool {
    match state.kind {
        EntityKind::Area | EntityKind::Building | EntityKind::Station | EntityKind::Patrol => true,
        EntityKind::Case => link(state, "building_id").is_none(),
        EntityKind::Household
        | EntityKind::PatrolVisit
        | EntityKind::Resident
        | EntityKind::Registration => false,
    }
}

/// The scope key of a resolved area path (`/<district>/.../<area>`); `None` when empty.
pub fn key_of(areas: &[Id]) -> Option<String> {
    (!areas.is_empty()).then(|| areas.iter().map(|id| format!("/{id}")).collect())
}

/// The id in a link field (`null`, absent or not an id: no link).
pub(crate) fn link(state: &RecordState, field: &str) -> Option<Id> {
    state.fields.get(field)?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    fn record(kind: EntityKind, fields: serde_json::Value) -> RecordState {
        let mut r = RecordState::new(kind, crate::ids::test_id());
        r.fields = fields.as_object().cloned().unwrap_or_default();
        r
    }

    struct Town {
        records: HashMap<Id, RecordState>,
        path: String,
        grid: Id,
    }

    /// District → subdistrict → layer → community → grid.
    fn town() -> Town {
        let mut records = HashMap::new();
        let mut parent: Option<Id> = None;
        let mut path = String::new();
        for _ in 0..5 {
            let area = record(EntityKind::Area, json!({ "parent_id": parent }));
            path.push_str(&format!("/{}", area.id));
            parent = Some(area.id);
            records.insert(area.id, area);
        }
        Town {
            records,
            path,
            grid: parent.unwrap(),
        }
    }

    fn key(town: &Town, state: &RecordState) -> Option<String> {
        scope_key::<(), _>(state, &mut |id| Ok(town.records.get(&id).cloned())).unwrap()
    }

    #[test]
    fn a_resident_belongs_to_the_grid_of_the_building_of_their_household() {
        let mut town = town();
        let building = record(EntityKind::Building, json!({ "grid_id": town.grid }));
        let household = record(EntityKind::Household, json!({ "building_id": building.id }));
        let resident = record(
            EntityKind::Resident,
            json!({ "household_id": household.id }),
        );
        town.records.insert(building.id, building.clone());
        town.records.insert(household.id, household);
        assert_eq!(key(&town, &resident), Some(town.path.clone()));
        assert_eq!(key(&town, &building), Some(town.path.clone()));
        let grid = town.records[&town.grid].clone();
        assert_eq!(key(&town, &grid), Some(town.path.clone()));
    }

    #[test]
    fn a_dispute_in_a_square_belongs_to_its_area_and_a_hazard_to_its_building() {
        let mut town = town();
        let building = record(EntityKind::Building, json!({ "grid_id": town.grid }));
        town.records.insert(building.id, building.clone());
        let dispute = record(
            EntityKind::Case,
            json!({ "area_id": town.grid, "building_id": null }),
        );
        assert_eq!(key(&town, &dispute), Some(town.path.clone()));
        let hazard = record(
            EntityKind::Case,
            json!({ "area_id": town.grid, "building_id": building.id }),
        );
        assert_eq!(key(&town, &hazard), Some(town.path.clone()));
    }

    #[test]
    fn an_unknown_link_or_a_cycle_gives_no_key() {
        let town = town();
        let orphan = record(
            EntityKind::Household,
            json!({ "building_id": crate::ids::test_id() }),
        );
        assert_eq!(key(&town, &orphan), None);
        let mut a = record(EntityKind::Area, json!({}));
        let mut b = record(EntityKind::Area, json!({ "parent_id": a.id }));
        a.fields.insert("parent_id".into(), json!(b.id));
        b.fields.insert("parent_id".into(), json!(a.id));
        let looped = Town {
            records: [(a.id, a.clone()), (b.id, b)].into_iter().collect(),
            path: String::new(),
            grid: a.id,
        };
        assert_eq!(key(&looped, &a), None);
    }

    #[test]
    fn known_areas_cut_the_path_at_the_first_area_not_held() {
        let t = town();
        let building = record(EntityKind::Building, json!({ "grid_id": t.grid }));
        let household = record(EntityKind::Household, json!({ "building_id": building.id }));
        let mut held = t.records.clone();
        held.insert(building.id, building.clone());
        let full = scope_key::<(), _>(&household, &mut |id| Ok(held.get(&id).cloned()))
            .unwrap()
            .unwrap();
        let areas = known_areas::<()>(&household, &mut |id| Ok(held.get(&id).cloned())).unwrap();
        assert_eq!(
            key_of(&areas).unwrap(),
            full,
            "everything held: the whole path"
        );

        // A phone holding the building but not its grid knows the grid's id from the link.
        let only_building = |id: Id| Ok::<_, ()>((id == building.id).then(|| building.clone()));
        let mut lookup = only_building;
        assert_eq!(known_areas(&household, &mut lookup).unwrap(), vec![t.grid]);
        // A household whose building is not held: no area is known.
        let mut nothing = |_| Ok::<_, ()>(None);
        assert!(known_areas(&household, &mut nothing).unwrap().is_empty());
        // A case without its building still names its area.
        let case = record(
            EntityKind::Case,
            json!({ "building_id": building.id, "area_id": t.grid }),
        );
        assert_eq!(known_areas(&case, &mut nothing).unwrap(), vec![t.grid]);
    }
}
