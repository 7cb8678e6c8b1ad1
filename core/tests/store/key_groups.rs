//! Key groups through the store (一老一小): an elderly man living alone is visited every week;
//! after eight days without a visit he is on the overdue list.

use gridwork_core::Error;
use gridwork_domain::model::*;
use gridwork_domain::workflow::KeyGroupPolicy;

use crate::common::*;
use crate::workflow_world::*;

fn in_group(w: &World, r: &Resident, group: KeyGroup) -> Resident {
    w.gw.update::<Resident>(r.id, |r| r.key_groups = vec![group])
        .unwrap()
}

#[test]
fn an_elderly_resident_living_alone_not_visited_for_8_days_is_overdue() {
    let w = World::new(2);
    let flat = household(
        &w.gw,
        w.g.buildings[1].id,
        "1-101",
        HouseholdKind::OwnerOccupied,
    );
    let grandpa = in_group(
        &w,
        &resident(&w.gw, flat.id, "王建华", &id_number("19380207", 31)),
        KeyGroup::ElderlyLivingAlone,
    );
    let child_home = household(
        &w.gw,
        w.g.buildings[0].id,
        "2-202",
        HouseholdKind::OwnerOccupied,
    );
    let child = in_group(
        &w,
        &resident(&w.gw, child_home.id, "李小婷", &id_number("20160405", 32)),
        KeyGroup::LeftBehindChild,
    );

    let visited = w.gw.record_key_group_visit(grandpa.id).unwrap();
    assert_eq!(visited.last_visit_ms, Some(w.now()));
    w.gw.record_key_group_visit(child.id).unwrap();

    w.wait(7 * DAY);
    assert!(
        w.gw.overdue_visits(w.g.grid.id).unwrap().is_empty(),
        "on the seventh day he is due, not late"
    );
    w.wait(DAY);
    let overdue = w.gw.overdue_visits(w.g.grid.id).unwrap();
    assert_eq!(
        overdue.len(),
        1,
        "the child is visited fortnightly: not yet"
    );
    assert_eq!(overdue[0].name, "王建华");
    assert_eq!(overdue[0].unit, "1-101");
    assert_eq!(overdue[0].address, w.g.buildings[1].address);
    assert_eq!(overdue[0].due.overdue_by_ms, DAY);

    // The visit today takes him off the list.
    w.gw.record_key_group_visit(grandpa.id).unwrap();
    assert!(w.gw.overdue_visits(w.g.subdistrict.id).unwrap().is_empty());
}

#[test]
fn the_visit_intervals_are_a_setting_kept_in_the_store() {
    let w = World::new(1);
    let flat = household(
        &w.gw,
        w.g.buildings[0].id,
        "1-101",
        HouseholdKind::OwnerOccupied,
    );
    let grandma = in_group(
        &w,
        &resident(&w.gw, flat.id, "张桂英", &id_number("19400101", 41)),
        KeyGroup::ElderlyLivingAlone,
    );
    w.gw.record_key_group_visit(grandma.id).unwrap();
    assert_eq!(w.gw.key_group_policy().unwrap(), KeyGroupPolicy::default());

    let every_three_days = KeyGroupPolicy {
        elderly_living_alone_days: 3,
        ..KeyGroupPolicy::default()
    };
    w.gw.set_key_group_policy(every_three_days).unwrap();
    assert_eq!(w.gw.key_group_policy().unwrap(), every_three_days);
    w.wait(3 * DAY + 1);
    assert_eq!(w.gw.overdue_visits(w.g.grid.id).unwrap().len(), 1);

    let err =
        w.gw.set_key_group_policy(KeyGroupPolicy {
            disabled_days: 0,
            ..every_three_days
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "key_group_policy.disabled_days"),
        "{err:?}"
    );
}

#[test]
fn a_never_visited_resident_is_overdue_and_someone_in_no_key_group_gets_no_visit() {
    let w = World::new(1);
    let flat = household(
        &w.gw,
        w.g.buildings[0].id,
        "1-101",
        HouseholdKind::OwnerOccupied,
    );
    let neighbour = resident(&w.gw, flat.id, "周强", &id_number("19800101", 51));
    let new_arrival = in_group(
        &w,
        &resident(&w.gw, flat.id, "吴玉兰", &id_number("19420101", 52)),
        KeyGroup::ElderlyLivingAlone,
    );
    let overdue = w.gw.overdue_visits(w.g.grid.id).unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].due.resident_id, new_arrival.id);
    assert_eq!(overdue[0].due.last_visit_ms, None);
    let err = w.gw.record_key_group_visit(neighbour.id).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "resident.key_groups"),
        "{err:?}"
    );
}
