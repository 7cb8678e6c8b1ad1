//! Search over names, addresses, phones and case titles with Chinese data.

use gridwork_core::Gridwork;
use gridwork_domain::model::*;
use gridwork_domain::op::EntityKind;

use crate::common::*;

fn seeded() -> (Gridwork, Grid) {
    let gw = Gridwork::open_in_memory(TestClock::at(MORNING_MS).options()).unwrap();
    let g = grid_with_buildings(&gw, 12);
    let h = household(&gw, g.buildings[2].id, "3-402", HouseholdKind::Rental);
    gw.update::<Household>(h.id, |h| h.phone = Some("0571-87654321".into()))
        .unwrap();
    resident(&gw, h.id, "王芳", &id_number("19910315", 128));
    resident(&gw, h.id, "欧阳明华", &id_number("19650808", 3));
    gw.open_case(hazard(
        &g,
        g.buildings[5].id,
        "电动车在楼道内充电",
        Severity::High,
    ))
    .unwrap();
    (gw, g)
}

#[test]
fn a_gridworker_finds_a_building_by_part_of_its_address() {
    let (gw, g) = seeded();
    let hits = gw.search("梅花碑社区3幢", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, g.buildings[2].id);
    assert_eq!(
        gw.search("梅花碑", 50)
            .unwrap()
            .iter()
            .filter(|h| h.kind == EntityKind::Building)
            .count(),
        12
    );
}

#[test]
fn a_two_character_name_is_found_too() {
    let (gw, _) = seeded();
    let hits = gw.search("王芳", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, EntityKind::Resident);
    // A substring in the middle of a four-character name.
    assert_eq!(gw.search("阳明华", 10).unwrap().len(), 1);
    assert_eq!(gw.search("明", 10).unwrap().len(), 1);
}

#[test]
fn cases_are_found_by_a_word_inside_their_title_and_households_by_phone() {
    let (gw, _) = seeded();
    let hits = gw.search("楼道内充电", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, EntityKind::Case);
    let hits = gw.search("87654321", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, EntityKind::Household);
}

#[test]
fn id_numbers_are_not_searchable_and_operators_in_the_query_are_plain_text() {
    let (gw, _) = seeded();
    assert!(
        gw.search(&id_number("19910315", 128), 10)
            .unwrap()
            .is_empty()
    );
    assert!(gw.search("\"王 OR *", 10).unwrap().is_empty());
    assert!(gw.search("   ", 10).unwrap().is_empty());
}

#[test]
fn an_edited_name_is_found_by_its_new_value_only() {
    let (gw, _) = seeded();
    let id = gw.search("欧阳明华", 1).unwrap()[0].id;
    gw.update::<Resident>(id, |r| r.name = "欧阳晓东".into())
        .unwrap();
    assert!(gw.search("欧阳明华", 10).unwrap().is_empty());
    assert_eq!(gw.search("欧阳晓东", 10).unwrap()[0].id, id);
}

#[test]
fn an_edit_is_found_by_the_next_search_without_anything_else_running_between() {
    let (gw, grid) = seeded();
    let h = household(&gw, grid.buildings[0].id, "1-101", HouseholdKind::Rental);
    gw.update::<Household>(h.id, |h| h.phone = Some("13912345678".into()))
        .unwrap();
    let hits = gw.search("12345678", 10).unwrap();
    assert!(hits.iter().any(|hit| hit.id == h.id), "{hits:?}");
    // And nothing is left to index afterwards.
    assert_eq!(gw.refresh_search().unwrap(), 0);
}

#[test]
fn many_edits_without_a_search_are_indexed_in_batches_by_the_edits_themselves() {
    let (gw, grid) = seeded();
    let h = household(&gw, grid.buildings[0].id, "1-101", HouseholdKind::Rental);
    let n = gridwork_core::store::search_index::LOCAL_CATCH_UP_AT as usize + 20;
    for i in 0..n {
        gw.update::<Household>(h.id, |h| h.phone = Some(format!("138{i:08}")))
            .unwrap();
    }
    // An edit crossed the threshold and indexed the batch; only the edits after it wait.
    let waiting = gw.refresh_search().unwrap();
    assert!(
        waiting < 100,
        "{waiting} records waited: the edits never caught up"
    );
}
