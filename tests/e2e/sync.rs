//! Devices converge through the real server: concurrent edits, check-ins beside edits, alarms
//! through the long poll, new devices from a snapshot.

use std::time::Duration;

use gridwork_domain::model::*;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::{CaseAction, CaseState};
use uuid::Uuid;

use crate::harness::*;

#[tokio::test]
async fn two_phones_edit_the_same_household_offline_and_both_converge() {
    let server = TestServer::start().await;
    let (a, seeded) = seeded_admin(&server, "张伟").await;
    // The dispatcher's scope (the subdistrict) holds everything seeded, so whole digests compare.
    let b = Device::enrolled(
        &server,
        "李娜",
        Role::Dispatcher,
        vec![subdistrict(&seeded)],
    )
    .await;
    b.sync().await;
    let h = seeded.households[0].id;
    assert_eq!(
        b.gw.get::<Household>(h).unwrap(),
        a.gw.get::<Household>(h).unwrap()
    );

    // Both in a basement, no signal; 李娜 types a minute later.
    a.gw.update::<Household>(h, |h| h.phone = Some("13811112222".into()))
        .unwrap();
    b.advance_ms(60_000);
    b.gw.update::<Household>(h, |h| h.phone = Some("13933334444".into()))
        .unwrap();

    a.sync().await;
    b.sync().await;
    let report = a.sync().await;
    assert_eq!(report.conflicts, 1, "张伟's phone learns its value lost");

    for d in [&a, &b] {
        assert_eq!(
            d.gw.get::<Household>(h).unwrap().phone.as_deref(),
            Some("13933334444")
        );
    }
    assert_eq!(a.gw.state_digest().unwrap(), b.gw.state_digest().unwrap());
    let lost = a.gw.field_conflicts().unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].field, "phone");
    assert_eq!(lost[0].lost_value, "13811112222");
    assert_eq!(lost[0].won_value, "13933334444");
    assert!(
        b.gw.field_conflicts().unwrap().is_empty(),
        "the winner has nothing to resolve"
    );

    // 张伟 checks and re-applies his number: it wins everywhere, without a new conflict.
    a.gw.reapply_conflict(lost[0].id).unwrap();
    assert!(a.gw.field_conflicts().unwrap().is_empty());
    a.sync().await;
    let r = b.sync().await;
    assert_eq!(r.conflicts, 0);
    assert_eq!(
        b.gw.get::<Household>(h).unwrap().phone.as_deref(),
        Some("13811112222")
    );
    assert_eq!(a.gw.state_digest().unwrap(), b.gw.state_digest().unwrap());
}

#[tokio::test]
async fn a_building_heads_check_in_and_a_gridworkers_edit_of_the_same_household_both_survive() {
    let server = TestServer::start().await;
    let (operator, seeded) = seeded_admin(&server, "运维").await;
    let room = seeded.households[1].id;
    let building = seeded.households[1].building_id;
    let grid = seeded
        .buildings
        .iter()
        .find(|b| b.id == building)
        .unwrap()
        .grid_id;
    let worker = Device::enrolled(&server, "王芳", Role::Gridworker, vec![grid]).await;
    let head = Device::enrolled(&server, "赵磊", Role::BuildingHead, vec![building]).await;
    worker.sync().await;
    head.sync().await;

    let tenant = head
        .gw
        .create(Resident {
            id: Uuid::nil(),
            household_id: room,
            name: "刘洋".into(),
            id_number: Some(gridwork_core::seed::id_number(
                chrono::NaiveDate::from_ymd_opt(1998, 4, 2).unwrap(),
                501,
            )),
            phone: Some("13700001111".into()),
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })
        .unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    head.gw
        .create(Registration {
            id: Uuid::nil(),
            resident_id: tenant.id,
            household_id: room,
            check_in: today,
            expected_end: today.checked_add_days(chrono::Days::new(180)),
            check_out: None,
        })
        .unwrap();
    worker
        .gw
        .update::<Household>(room, |h| {
            h.kind = HouseholdKind::Rental;
            h.phone = Some("0571-87650000".into());
        })
        .unwrap();

    head.sync().await;
    worker.sync().await;
    head.sync().await;
    for d in [&worker, &head] {
        let hh = d.gw.get::<Household>(room).unwrap();
        assert_eq!(hh.kind, HouseholdKind::Rental);
        assert_eq!(hh.phone.as_deref(), Some("0571-87650000"));
        let stays = d.gw.registrations_of_resident(tenant.id).unwrap();
        assert_eq!(stays.len(), 1);
        assert!(stays[0].is_active());
        assert!(
            d.gw.field_conflicts().unwrap().is_empty(),
            "different fields never conflict"
        );
    }
    // The head's phone holds their building alone; the operator's holds it all and agrees.
    operator.sync().await;
    for id in [room, tenant.id] {
        assert!(operator.gw.record_state(id).unwrap().is_some());
        assert_eq!(
            head.gw.record_state(id).unwrap(),
            operator.gw.record_state(id).unwrap()
        );
    }
    assert!(
        head.gw
            .get::<Household>(
                seeded
                    .households
                    .iter()
                    .find(|h| h.building_id != building)
                    .unwrap()
                    .id
            )
            .is_err(),
        "another building's household is not on the head's phone"
    );
}

#[tokio::test]
async fn an_alarm_raised_by_the_dispatcher_reaches_the_crew_through_the_long_poll() {
    let server = TestServer::start().await;
    let (dispatcher, seeded) = seeded_admin(&server, "指挥中心").await;
    let station = seeded.stations[0].id;
    let crew = Device::enrolled(&server, "消防站一队", Role::FireCrew, vec![station]).await;
    crew.sync().await;

    let crew_gw = &crew.gw;
    let waiting = async { crew_gw.wait_for_changes(&crew.net, 20).await.unwrap() };
    let raising = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let building = &seeded.buildings[0];
        let alarm = dispatcher
            .gw
            .open_case(Case {
                id: Uuid::nil(),
                kind: CaseKind::Alarm,
                title: "3幢2单元闻到烟味".into(),
                category: "smoke".into(),
                severity: Severity::Critical,
                area_id: building.grid_id,
                building_id: Some(building.id),
                household_id: None,
                position: building.position,
                opened_at_ms: 0,
                patrol_id: None,
            })
            .unwrap();
        dispatcher
            .gw
            .record_case_event(
                alarm.case.id,
                CaseAction::Dispatch {
                    station_id: seeded.stations[0].id,
                },
            )
            .unwrap();
        dispatcher.sync().await;
        alarm.case.id
    };
    let started = std::time::Instant::now();
    let (report, alarm_id) = tokio::join!(waiting, raising);
    assert!(report.pulled >= 1, "the long poll returned with the alarm");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait out the 20 s poll"
    );
    // The first answer may carry only the case; the crew's next pull brings the rest.
    crew.sync().await;
    let view = crew.gw.case(alarm_id).unwrap();
    assert_eq!(view.fold.state, CaseState::Dispatched);
    assert_eq!(view.fold.dispatched_station, Some(seeded.stations[0].id));

    crew.gw
        .record_case_event(alarm_id, CaseAction::Acknowledge)
        .unwrap();
    crew.gw
        .record_case_event(alarm_id, CaseAction::Arrive { position: None })
        .unwrap();
    crew.sync().await;
    dispatcher.sync().await;
    assert_eq!(
        dispatcher.gw.case(alarm_id).unwrap().fold.state,
        CaseState::OnScene
    );
}

#[tokio::test]
async fn a_new_device_bootstrapped_from_a_snapshot_has_the_same_state_as_an_old_one() {
    let server = TestServer::start().await;
    let (old, seeded) = seeded_admin(&server, "周杰").await;
    let case = old
        .gw
        .open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Hazard,
            title: "楼道电动车充电".into(),
            category: "ebike_indoors".into(),
            severity: Severity::High,
            area_id: seeded.grids[0].id,
            building_id: Some(seeded.buildings[0].id),
            household_id: None,
            position: None,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap();
    old.gw
        .record_case_event(
            case.case.id,
            CaseAction::Assign {
                assignee: None,
                deadline_ms: None,
            },
        )
        .unwrap();
    old.gw
        .update::<Household>(seeded.households[2].id, |h| h.archived = true)
        .unwrap();
    old.sync().await;

    let new = Device::enrolled(&server, "新手机", Role::Admin, vec![]).await;
    let report = new.sync().await;
    assert!(
        report.snapshot_records > 0,
        "bootstrapped from a snapshot, not a replay"
    );
    assert_eq!(
        new.gw.state_digest().unwrap(),
        old.gw.state_digest().unwrap()
    );
    assert_eq!(
        new.gw.case(case.case.id).unwrap().fold.state,
        CaseState::Assigned
    );
    assert_eq!(new.gw.pending_count().unwrap(), 0);
}

#[tokio::test]
async fn a_server_restart_loses_nothing_already_accepted() {
    let mut server = TestServer::start().await;
    let (mut a, seeded) = seeded_admin(&server, "孙丽").await;
    a.gw.update::<Household>(seeded.households[0].id, |h| h.unit = "9-901".into())
        .unwrap();
    a.sync().await;
    let before = a.gw.state_digest().unwrap();

    server.restart().await;
    a.reconnect(&server);
    a.gw.update::<Household>(seeded.households[1].id, |h| h.unit = "9-902".into())
        .unwrap();
    let r = a.sync().await;
    assert_eq!(r.pushed, 1);
    let fresh = Device::enrolled(&server, "新设备", Role::Admin, vec![]).await;
    fresh.sync().await;
    assert_eq!(
        fresh.gw.state_digest().unwrap(),
        a.gw.state_digest().unwrap()
    );
    assert_ne!(before, a.gw.state_digest().unwrap());
    assert_eq!(
        fresh
            .gw
            .get::<Household>(seeded.households[0].id)
            .unwrap()
            .unit,
        "9-901"
    );
}

#[tokio::test]
async fn an_unenrolled_device_is_told_to_enroll_and_a_bad_code_is_refused() {
    let server = TestServer::start().await;
    let gw =
        gridwork_core::Gridwork::open_in_memory(gridwork_core::OpenOptions::default()).unwrap();
    let net = gridwork_core::HttpTransport::new(&server.url(), None).unwrap();
    let err = gw.sync_now(&net).await.unwrap_err();
    assert!(err.to_string().contains("not enrolled"), "{err}");
    let err = gw.enroll(&net, "WRONG-CODE", "phone").await.unwrap_err();
    assert!(!err.is_retryable(), "a bad code is not retried: {err}");
}

#[tokio::test]
async fn an_alarm_resolved_on_two_phones_at_once_keeps_both_events_and_flags_the_second() {
    let server = TestServer::start().await;
    let (dispatcher, seeded) = seeded_admin(&server, "调度员").await;
    let crew = Device::enrolled(&server, "二队", Role::FireCrew, vec![seeded.stations[0].id]).await;
    crew.sync().await;
    let b = &seeded.buildings[1];
    let alarm = dispatcher
        .gw
        .open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Alarm,
            title: "地下室冒烟".into(),
            category: "smoke".into(),
            severity: Severity::Critical,
            area_id: b.grid_id,
            building_id: Some(b.id),
            household_id: None,
            position: b.position,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap()
        .case
        .id;
    for step in [
        CaseAction::Dispatch {
            station_id: seeded.stations[0].id,
        },
        CaseAction::Acknowledge,
        CaseAction::Arrive { position: None },
    ] {
        dispatcher.gw.record_case_event(alarm, step).unwrap();
    }
    dispatcher.sync().await;
    crew.sync().await;

    // Both offline: each resolves it.
    dispatcher
        .gw
        .record_case_event(alarm, CaseAction::Resolve)
        .unwrap();
    crew.advance_ms(30_000);
    crew.gw
        .record_case_event(alarm, CaseAction::Resolve)
        .unwrap();
    dispatcher.sync().await;
    crew.sync().await;
    dispatcher.sync().await;

    for d in [&dispatcher, &crew] {
        let timeline = d.gw.case_timeline(alarm).unwrap();
        let resolves: Vec<_> = timeline
            .iter()
            .filter(|t| t.event.action.name() == "resolve")
            .collect();
        assert_eq!(resolves.len(), 2, "both events are kept");
        assert!(resolves[0].flagged.is_none());
        assert!(resolves[1].flagged.is_some(), "the later one is flagged");
        assert_eq!(d.gw.case(alarm).unwrap().fold.state, CaseState::Resolved);
        let conflicts = d.gw.case_event_conflicts().unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].event_id, resolves[1].event.id);
    }
    // The crew holds the alarm (dispatched to its station) exactly as the dispatcher does.
    assert_eq!(
        crew.gw.record_state(alarm).unwrap(),
        dispatcher.gw.record_state(alarm).unwrap()
    );
    assert_eq!(
        crew.gw.case_timeline(alarm).unwrap().len(),
        dispatcher.gw.case_timeline(alarm).unwrap().len()
    );
}
