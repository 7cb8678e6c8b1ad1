//! The store as the field uses it: registering households, checking tenants in, refusing bad
//! input with the field named, moving a hazard through its lifecycle.

use gridwork_core::{Error, Gridwork, OpenOptions};
use gridwork_domain::model::*;
use gridwork_domain::op::OpBody;
use gridwork_domain::workflow::{CaseAction, CaseState, Colour};
use uuid::Uuid;

use crate::common::*;

fn store() -> (Gridwork, TestClock) {
    let clock = TestClock::at(MORNING_MS);
    (Gridwork::open_in_memory(clock.options()).unwrap(), clock)
}

#[test]
fn a_gridworker_registers_a_household_and_its_residents_offline() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 3);
    let before = gw.pending_count().unwrap();
    let h = household(
        &gw,
        g.buildings[0].id,
        "2-301",
        HouseholdKind::OwnerOccupied,
    );
    let zhang = resident(&gw, h.id, "张伟", &id_number("19500312", 21));
    resident(&gw, h.id, "李娜", &id_number("19520705", 42));

    assert_eq!(
        gw.pending_count().unwrap(),
        before + 3,
        "one operation per action, queued"
    );
    assert_eq!(
        gw.households_of_building(g.buildings[0].id, false).unwrap(),
        vec![h.clone()]
    );
    let list = gw.residents_of_household(h.id).unwrap();
    assert_eq!(list.len(), 2);
    let full = gw.get::<Resident>(zhang.id).unwrap().id_number.unwrap();
    for r in &list {
        let masked = r.id_number_masked.as_deref().unwrap();
        assert!(
            masked.contains("**********"),
            "lists show ID numbers masked: {masked}"
        );
        assert_ne!(masked, full);
        assert!(!masked.contains(&full[6..14]), "the birth date is hidden");
    }
}

#[test]
fn a_bad_id_number_is_refused_with_a_message_naming_the_field_and_nothing_is_written() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let h = household(&gw, g.buildings[0].id, "1-101", HouseholdKind::Rental);
    let good = id_number("19880101", 11);
    // One digit typed wrong: the GB 11643 check digit no longer matches.
    let typo = format!(
        "{}{}",
        &good[..10],
        if &good[10..11] == "0" { "1" } else { "0" }
    ) + &good[11..];
    let before = gw.pending_count().unwrap();
    let err = gw
        .create(Resident {
            id: Uuid::nil(),
            household_id: h.id,
            name: "王芳".into(),
            id_number: Some(typo.clone()),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })
        .unwrap_err();
    let Error::Invalid(v) = &err else {
        panic!("expected a validation error, got {err:?}")
    };
    assert_eq!(v.field, "resident.id_number");
    assert!(
        !err.to_string().contains(&typo),
        "the message must not repeat the number"
    );
    assert_eq!(gw.pending_count().unwrap(), before);
    assert!(gw.residents_of_household(h.id).unwrap().is_empty());
}

#[test]
fn a_phone_typed_with_the_country_code_is_stored_normalised_and_a_bad_one_refused() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let h = household(
        &gw,
        g.buildings[0].id,
        "1-101",
        HouseholdKind::OwnerOccupied,
    );
    let h = gw
        .update::<Household>(h.id, |h| h.phone = Some("+86 138 0571 2345".into()))
        .unwrap();
    assert_eq!(h.phone.as_deref(), Some("13805712345"));
    let err = gw
        .update::<Household>(h.id, |h| h.phone = Some("12345".into()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "household.phone"),
        "{err:?}"
    );
}

#[test]
fn editing_a_household_phone_writes_one_field_carrying_the_stamp_it_overwrote() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let h = household(
        &gw,
        g.buildings[0].id,
        "1-101",
        HouseholdKind::OwnerOccupied,
    );
    let created_stamp = gw.record_state(h.id).unwrap().unwrap().stamps["unit"];
    gw.update::<Household>(h.id, |h| h.phone = Some("13900001111".into()))
        .unwrap();
    let last = gw.pending_ops(1000).unwrap().pop().unwrap().op;
    let OpBody::Set { fields } = &last.body else {
        panic!("a field-level set")
    };
    assert_eq!(fields.keys().collect::<Vec<_>>(), vec!["phone"]);
    assert_eq!(fields["phone"].base, Some(created_stamp));
    assert!(last.stamp > created_stamp);
    // An edit that changes nothing writes nothing.
    let n = gw.pending_count().unwrap();
    gw.update::<Household>(h.id, |h| h.phone = Some("13900001111".into()))
        .unwrap();
    assert_eq!(gw.pending_count().unwrap(), n);
}

#[test]
fn a_household_moving_out_is_archived_not_deleted() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let h = household(&gw, g.buildings[0].id, "3-502", HouseholdKind::Rental);
    gw.update::<Household>(h.id, |h| h.archived = true).unwrap();
    assert!(
        gw.households_of_building(g.buildings[0].id, false)
            .unwrap()
            .is_empty()
    );
    let all = gw.households_of_building(g.buildings[0].id, true).unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].archived);
}

#[test]
fn a_building_head_checks_a_tenant_in_and_out() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let room = household(&gw, g.buildings[0].id, "5-101", HouseholdKind::Rental);
    let tenant = resident(&gw, room.id, "刘洋", &id_number("19990228", 77));
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let stay = gw
        .create(Registration {
            id: Uuid::nil(),
            resident_id: tenant.id,
            household_id: room.id,
            check_in: day("2026-11-23"),
            expected_end: Some(day("2027-05-22")),
            check_out: None,
        })
        .unwrap();
    assert!(gw.registrations_of_resident(tenant.id).unwrap()[0].is_active());
    gw.update::<Registration>(stay.id, |r| r.check_out = Some(day("2027-03-01")))
        .unwrap();
    let stays = gw.registrations_of_resident(tenant.id).unwrap();
    assert_eq!(stays.len(), 1);
    assert_eq!(stays[0].check_out, Some(day("2027-03-01")));

    let err = gw
        .update::<Registration>(stay.id, |r| r.check_out = Some(day("2026-01-01")))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "registration.check_out"),
        "{err:?}"
    );
}

#[test]
fn records_must_point_at_records_that_exist_and_codes_must_nest() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 1);
    let err = gw
        .create(Household {
            id: Uuid::nil(),
            building_id: Uuid::now_v7(),
            unit: "1-101".into(),
            kind: HouseholdKind::Vacant,
            phone: None,
            archived: false,
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "household.building_id"),
        "{err:?}"
    );

    let mut outside = g.buildings[0].clone();
    outside.id = Uuid::nil();
    outside.address_code = "3301060010010020001".into(); // grid 002, not this building's grid
    let err = gw.create(outside).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "building.address_code"),
        "{err:?}"
    );

    let err = gw
        .create(Area {
            id: Uuid::nil(),
            level: AreaLevel::Grid,
            code: "330106002001001".into(), // another subdistrict's code
            name: "错位网格".into(),
            parent_id: Some(g.community.id),
            response_policies: vec![],
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "area.code"),
        "{err:?}"
    );
}

#[test]
fn buildings_are_found_from_any_level_above_them() {
    let (gw, _) = store();
    let g = grid_with_buildings(&gw, 4);
    for area in [&g.subdistrict, &g.community, &g.grid, &g.micro] {
        assert_eq!(
            gw.buildings_in_area(area.id).unwrap().len(),
            4,
            "from {}",
            area.name
        );
    }
}

#[test]
fn a_hazard_goes_through_its_lifecycle_and_a_step_out_of_order_is_refused() {
    let (gw, clock) = store();
    let g = grid_with_buildings(&gw, 1);
    let case = gw
        .open_case(hazard(
            &g,
            g.buildings[0].id,
            "电动车楼道充电",
            Severity::High,
        ))
        .unwrap();
    assert_eq!(case.fold.state, CaseState::Reported);

    // Nothing has been fixed yet, so there is nothing to re-check.
    let err = gw
        .record_case_event(case.case.id, CaseAction::Recheck { passed: true })
        .unwrap_err();
    assert!(matches!(err, Error::Transition(_)), "{err:?}");
    assert!(
        gw.case_timeline(case.case.id).unwrap().is_empty(),
        "a refused step is not recorded"
    );

    gw.record_case_event(
        case.case.id,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
    )
    .unwrap();
    clock.advance_minutes(90);
    gw.record_case_event(case.case.id, CaseAction::Fix).unwrap();
    let done = gw
        .record_case_event(case.case.id, CaseAction::Recheck { passed: true })
        .unwrap();
    assert!(done.fold.state.is_closed());
    assert!(
        done.colour.is_none(),
        "a closed case has no running deadline"
    );

    let timeline = gw.case_timeline(case.case.id).unwrap();
    let names: Vec<_> = timeline.iter().map(|t| t.event.action.name()).collect();
    assert_eq!(names, vec!["assign", "fix", "recheck"]);
    assert!(timeline.iter().all(|t| t.flagged.is_none()));
    assert!(gw.open_cases_in_area(g.grid.id).unwrap().is_empty());
}

#[test]
fn open_cases_come_most_urgent_first_and_turn_red_when_overdue() {
    let (gw, clock) = store();
    let g = grid_with_buildings(&gw, 2);
    let low = gw
        .open_case(hazard(&g, g.buildings[0].id, "楼道堆物", Severity::Low))
        .unwrap();
    let critical = gw
        .open_case(hazard(
            &g,
            g.buildings[1].id,
            "安全出口堵塞",
            Severity::Critical,
        ))
        .unwrap();
    let list = gw.open_cases_in_area(g.community.id).unwrap();
    assert_eq!(
        list.iter().map(|v| v.case.id).collect::<Vec<_>>(),
        vec![critical.case.id, low.case.id]
    );
    assert_eq!(list[0].colour, Some(Colour::Green));

    // Far past any deadline of the critical hazard.
    clock.advance_minutes(60 * 24 * 40);
    let list = gw.open_cases_in_area(g.grid.id).unwrap();
    assert!(list.iter().all(|v| v.colour == Some(Colour::Red)));
    assert_eq!(
        list[0].case.id, critical.case.id,
        "the most overdue comes first"
    );
}

#[test]
fn the_clock_never_goes_back_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let clock = TestClock::at(MORNING_MS);
    let first_device;
    let last_before;
    {
        let gw = Gridwork::open_with(&path, clock.options()).unwrap();
        first_device = gw.device_id();
        grid_with_buildings(&gw, 1);
        last_before = gw.pending_ops(1000).unwrap().last().unwrap().op.stamp;
    }
    // The phone reboots with its clock an hour behind.
    let behind = TestClock::at(MORNING_MS - 3_600_000);
    let gw = Gridwork::open_with(&path, behind.options()).unwrap();
    assert_eq!(gw.device_id(), first_device, "the device keeps its id");
    let g_area = gw.child_areas(None).unwrap()[0].clone();
    gw.update::<Area>(g_area.id, |a| a.name = "西湖区（新）".into())
        .unwrap();
    let after = gw.pending_ops(1000).unwrap().last().unwrap().op.stamp;
    assert!(after.hlc > last_before.hlc);
    let _ = OpenOptions::default();
}
