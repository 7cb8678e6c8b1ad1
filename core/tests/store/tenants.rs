//! Tenant registration through the store (流动人口登记): the building head checks tenants in
//! and out hotel-style, and the gridworker reads the rate, the rooms to knock on and the stays
//! expiring or overdue.

use chrono::NaiveDate;
use gridwork_core::Error;
use gridwork_domain::model::*;

use crate::common::*;
use crate::workflow_world::*;

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn field_of(err: &Error) -> &str {
    match err {
        Error::Invalid(v) => &v.field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_building_with_three_rental_rooms_and_two_registered_is_at_two_thirds() {
    let w = World::new(2);
    let b = &w.g.buildings[0];
    let r1 = household(&w.gw, b.id, "1-101", HouseholdKind::Rental);
    let r2 = household(&w.gw, b.id, "1-102", HouseholdKind::GroupRental);
    let r3 = household(&w.gw, b.id, "1-103", HouseholdKind::Rental);
    // The landlord's own flat is not a rental room.
    household(&w.gw, b.id, "1-201", HouseholdKind::OwnerOccupied);
    let a = w.tenant(r1.id, "陈明", 1);
    let c = w.tenant(r2.id, "刘洋", 2);
    w.gw.check_in(a.id, r1.id, day(10, 1), Some(day(12, 31)))
        .unwrap();
    w.gw.check_in(c.id, r2.id, day(11, 1), None).unwrap();

    let report = w.gw.registration_rate(w.g.grid.id).unwrap();
    assert_eq!(
        report.buildings.len(),
        1,
        "only buildings with rental rooms are listed"
    );
    let building = &report.buildings[0];
    assert_eq!(building.building_id, b.id);
    assert_eq!(
        (
            building.rate.registered_rooms,
            building.rate.occupied_rental_rooms
        ),
        (2, 3)
    );
    assert!((building.rate.room_rate - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        (
            building.rate.registered_people,
            building.rate.people_in_rentals
        ),
        (2, 2),
        "both tenants recorded in the rooms are registered"
    );
    assert_eq!(report.grids.len(), 1);
    assert_eq!(report.grids[0].grid_id, w.g.grid.id);
    assert_eq!(report.grids[0].rate, building.rate);
    assert_eq!(
        w.gw.registration_rate(w.g.subdistrict.id).unwrap().area,
        building.rate
    );

    let knock = w.gw.unregistered_rooms(w.g.subdistrict.id).unwrap();
    assert_eq!(knock.len(), 1);
    assert_eq!(
        (knock[0].household_id, knock[0].unit.as_str()),
        (r3.id, "1-103")
    );
    assert_eq!(knock[0].address, b.address);

    // The tenant of 1-101 leaves: that room is now the one to knock on too.
    let stay = w.gw.registrations_of_resident(a.id).unwrap().remove(0);
    w.gw.check_out(stay.id, day(11, 20)).unwrap();
    let units: Vec<String> =
        w.gw.unregistered_rooms(w.g.grid.id)
            .unwrap()
            .into_iter()
            .map(|r| r.unit)
            .collect();
    assert_eq!(units, ["1-101", "1-103"]);
}

#[test]
fn stays_ending_this_week_and_stays_past_their_end_are_listed() {
    let w = World::new(1);
    let b = &w.g.buildings[0];
    let today = day(11, 23);
    let mut tenants = Vec::new();
    for (i, end) in [
        day(11, 23),
        day(11, 30),
        day(12, 1),
        day(11, 20),
        day(10, 31),
    ]
    .iter()
    .enumerate()
    {
        let room = household(
            &w.gw,
            b.id,
            &format!("2-{:02}", i + 1),
            HouseholdKind::Rental,
        );
        let t = w.tenant(room.id, &format!("租客{i}"), i as u16 + 10);
        w.gw.check_in(t.id, room.id, day(9, 1), Some(*end)).unwrap();
        tenants.push(t.name);
    }

    let expiring = w.gw.expiring_stays(w.g.grid.id, today, 7).unwrap();
    let names: Vec<&str> = expiring.iter().map(|s| s.resident_name.as_str()).collect();
    assert_eq!(
        names,
        ["租客0", "租客1"],
        "today and today + 7, soonest first; + 8 is not yet"
    );
    assert_eq!(expiring[0].unit, "2-01");
    assert_eq!(expiring[0].address, b.address);

    let overdue = w.gw.overdue_stays(w.g.grid.id, today).unwrap();
    let names: Vec<&str> = overdue.iter().map(|s| s.resident_name.as_str()).collect();
    assert_eq!(names, ["租客4", "租客3"], "longest overdue first");

    // Checked out: no longer overdue.
    w.gw.check_out(overdue[0].registration.id, today).unwrap();
    assert_eq!(w.gw.overdue_stays(w.g.grid.id, today).unwrap().len(), 1);
}

#[test]
fn check_in_and_check_out_refuse_bad_days_naming_the_field() {
    let w = World::new(1);
    let room = household(&w.gw, w.g.buildings[0].id, "3-301", HouseholdKind::Rental);
    let t = w.tenant(room.id, "赵磊", 5);
    let before = w.gw.pending_count().unwrap();

    let err =
        w.gw.check_in(t.id, room.id, day(11, 23), Some(day(11, 22)))
            .unwrap_err();
    assert_eq!(field_of(&err), "registration.expected_end");
    let err =
        w.gw.check_in(uuid::Uuid::now_v7(), room.id, day(11, 23), None)
            .unwrap_err();
    assert_eq!(field_of(&err), "registration.resident_id");
    assert_eq!(w.gw.pending_count().unwrap(), before, "nothing written");

    let stay = w.gw.check_in(t.id, room.id, day(11, 23), None).unwrap();
    let err = w.gw.check_in(t.id, room.id, day(11, 24), None).unwrap_err();
    assert_eq!(
        field_of(&err),
        "registration.resident_id",
        "already checked in: {err}"
    );

    let err = w.gw.check_out(stay.id, day(11, 22)).unwrap_err();
    assert_eq!(field_of(&err), "registration.check_out");
    assert!(err.to_string().contains("before the check-in"), "{err}");
    let out = w.gw.check_out(stay.id, day(11, 23)).unwrap();
    assert_eq!(out.check_out, Some(day(11, 23)), "a same-day stay is fine");
    let err = w.gw.check_out(stay.id, day(11, 25)).unwrap_err();
    assert!(err.to_string().contains("already checked out"), "{err}");

    // Moved out: the room is archived and takes no tenant.
    w.gw.update::<Household>(room.id, |h| h.archived = true)
        .unwrap();
    let err = w.gw.check_in(t.id, room.id, day(11, 26), None).unwrap_err();
    assert_eq!(field_of(&err), "registration.household_id");
}
