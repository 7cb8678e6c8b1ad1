//! The tenant ledger's rules on the phone (人房匹配): a tenant is checked in with a valid ID
//! number, into the room they live in, with one open stay at a time; a building has one
//! household per unit. Each is refused before anything is written, whichever way the record is
//! written; the people and rooms still to register are listed.

use gridwork_core::Error;
use gridwork_domain::model::*;
use uuid::Uuid;

use crate::common::*;
use crate::workflow_world::*;

fn day(m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn field_of(err: &Error) -> &str {
    match err {
        Error::Invalid(v) => &v.field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_tenant_check_in_needs_a_valid_id_number() {
    let w = World::new(1);
    let room = household(&w.gw, w.g.buildings[0].id, "1-101", HouseholdKind::Rental);
    let unknown =
        w.gw.create(Resident {
            id: Uuid::nil(),
            household_id: room.id,
            name: "无证租客".into(),
            id_number: None,
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })
        .unwrap();
    let before = w.gw.pending_count().unwrap();
    let err =
        w.gw.check_in(unknown.id, room.id, day(11, 23), None)
            .unwrap_err();
    assert_eq!(field_of(&err), "resident.id_number", "{err}");
    assert_eq!(w.gw.pending_count().unwrap(), before, "nothing written");
    // Once the number is recorded, the check-in goes through.
    w.gw.update::<Resident>(unknown.id, |r| {
        r.id_number = Some(id_number("19950101", 7));
    })
    .unwrap();
    w.gw.check_in(unknown.id, room.id, day(11, 23), None)
        .unwrap();
}

#[test]
fn a_tenant_is_checked_in_only_to_the_room_of_their_own_household() {
    let w = World::new(1);
    let b = w.g.buildings[0].id;
    let theirs = household(&w.gw, b, "1-101", HouseholdKind::Rental);
    let other = household(&w.gw, b, "1-102", HouseholdKind::Rental);
    let t = w.tenant(theirs.id, "刘洋", 1);
    let err =
        w.gw.check_in(t.id, other.id, day(11, 23), None)
            .unwrap_err();
    assert_eq!(field_of(&err), "registration.household_id", "{err}");
    assert!(err.to_string().contains("人房匹配"), "{err}");
    w.gw.check_in(t.id, theirs.id, day(11, 23), None).unwrap();
}

#[test]
fn a_person_holds_one_open_stay_at_a_time() {
    let w = World::new(1);
    let b = w.g.buildings[0].id;
    let first = household(&w.gw, b, "1-101", HouseholdKind::Rental);
    let second = household(&w.gw, b, "1-102", HouseholdKind::Rental);
    let t = w.tenant(first.id, "黄婷", 2);
    let stay = w.gw.check_in(t.id, first.id, day(11, 1), None).unwrap();
    // She moves across the landing without checking out of the first room.
    w.gw.update::<Resident>(t.id, |r| r.household_id = second.id)
        .unwrap();
    let err =
        w.gw.check_in(t.id, second.id, day(11, 23), None)
            .unwrap_err();
    assert_eq!(field_of(&err), "registration.resident_id");
    assert!(err.to_string().contains("open stay"), "{err}");
    w.gw.check_out(stay.id, day(11, 22)).unwrap();
    w.gw.check_in(t.id, second.id, day(11, 23), None).unwrap();
}

#[test]
fn no_way_of_writing_a_stay_on_the_phone_skips_the_rules() {
    let w = World::new(1);
    let room = household(&w.gw, w.g.buildings[0].id, "1-101", HouseholdKind::Rental);
    let t = w.tenant(room.id, "曾志强", 3);
    let stay = w.gw.check_in(t.id, room.id, day(11, 1), None).unwrap();
    // A second open stay through the generic write path.
    let err =
        w.gw.create(Registration {
            id: Uuid::nil(),
            resident_id: t.id,
            household_id: room.id,
            check_in: day(11, 2),
            expected_end: None,
            check_out: None,
        })
        .unwrap_err();
    assert_eq!(field_of(&err), "registration.resident_id");
    // Re-opening a second stay by clearing its check-out is refused the same way.
    let out = w.gw.check_out(stay.id, day(11, 10)).unwrap();
    w.gw.check_in(t.id, room.id, day(11, 11), None).unwrap();
    let err =
        w.gw.update::<Registration>(out.id, |r| r.check_out = None)
            .unwrap_err();
    assert_eq!(field_of(&err), "registration.resident_id");
    // Editing what the rules are not about is not judged.
    w.gw.update::<Registration>(out.id, |r| r.expected_end = Some(day(11, 10)))
        .unwrap();
}

#[test]
fn a_unit_is_unique_within_its_building() {
    let w = World::new(2);
    let (b1, b2) = (w.g.buildings[0].id, w.g.buildings[1].id);
    let first = household(&w.gw, b1, "2-301", HouseholdKind::Rental);
    let before = w.gw.pending_count().unwrap();
    let again = Household {
        id: Uuid::nil(),
        building_id: b1,
        unit: "２－３０１".into(), // the same unit typed full-width
        kind: HouseholdKind::OwnerOccupied,
        phone: None,
        archived: false,
    };
    let err = w.gw.create(again.clone()).unwrap_err();
    assert_eq!(field_of(&err), "household.unit", "{err}");
    assert_eq!(w.gw.pending_count().unwrap(), before, "nothing written");
    // The same unit in the next building is another flat.
    household(&w.gw, b2, "2-301", HouseholdKind::Rental);
    // Renaming another household onto the unit is refused too.
    let next_door = household(&w.gw, b1, "2-302", HouseholdKind::Rental);
    let err =
        w.gw.update::<Household>(next_door.id, |h| h.unit = "2-301".into())
            .unwrap_err();
    assert_eq!(field_of(&err), "household.unit");
    // A household that moved out frees its unit; it cannot come back onto a taken one.
    w.gw.update::<Household>(first.id, |h| h.archived = true)
        .unwrap();
    w.gw.create(again).unwrap();
    let err =
        w.gw.update::<Household>(first.id, |h| h.archived = false)
            .unwrap_err();
    assert_eq!(field_of(&err), "household.unit");
}

#[test]
fn people_living_in_rentals_without_a_registration_are_listed_with_their_rooms() {
    let w = World::new(1);
    let b = &w.g.buildings[0];
    let shared = household(&w.gw, b.id, "1-101", HouseholdKind::GroupRental);
    let empty = household(&w.gw, b.id, "1-102", HouseholdKind::Rental);
    let done = household(&w.gw, b.id, "1-103", HouseholdKind::Rental);
    let first = w.tenant(shared.id, "陈明", 1);
    w.tenant(shared.id, "李娜", 2);
    w.tenant(shared.id, "王勇", 3);
    let alone = w.tenant(done.id, "吴杰", 4);
    w.gw.check_in(first.id, shared.id, day(11, 1), None)
        .unwrap();
    w.gw.check_in(alone.id, done.id, day(11, 1), None).unwrap();

    let rate = w.gw.registration_rate(w.g.grid.id).unwrap().area;
    assert_eq!((rate.registered_rooms, rate.occupied_rental_rooms), (2, 3));
    assert_eq!((rate.registered_people, rate.people_in_rentals), (2, 4));
    assert_eq!(rate.person_rate, 0.5);

    let people = w.gw.unregistered_tenants(w.g.grid.id).unwrap();
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["李娜", "王勇"]);
    assert!(
        people
            .iter()
            .all(|p| p.unit == "1-101" && p.address == b.address)
    );
    assert!(
        people[0]
            .id_number_masked
            .as_deref()
            .is_some_and(|n| n.contains('*')),
        "lists show ID numbers masked"
    );

    let rooms = w.gw.unregistered_rooms(w.g.grid.id).unwrap();
    let listed: Vec<(&str, usize, bool)> = rooms
        .iter()
        .map(|r| (r.unit.as_str(), r.unregistered_people, r.any_registered))
        .collect();
    assert_eq!(listed, [("1-101", 2, true), ("1-102", 0, false)]);
    assert_eq!(rooms[1].household_id, empty.id);
}
