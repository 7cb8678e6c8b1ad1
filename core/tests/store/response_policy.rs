//! Response policies on the phone (响应时限): the subdistrict's policy, set on its area record,
//! times the alarms and incidents opened after it; a fire alarm is held to the crew's arrival
//! target as well as to its steps; a live alarm heads every list.

use gridwork_core::Error;
use gridwork_domain::model::*;
use gridwork_domain::workflow::{CaseAction, Colour, ResponsePolicy};
use uuid::Uuid;

use crate::workflow_world::*;

fn incident(w: &World, title: &str) -> Case {
    w.gw.raise_incident(
        Case {
            id: Uuid::nil(),
            kind: CaseKind::Incident,
            title: title.into(),
            category: "police_110".into(),
            severity: Severity::Medium,
            area_id: w.g.grid.id,
            building_id: Some(w.g.buildings[0].id),
            household_id: None,
            position: None,
            opened_at_ms: 0,
            patrol_id: None,
        },
        Some(w.me),
    )
    .unwrap()
    .case
}

#[test]
fn a_policy_change_applies_to_the_events_opened_after_it() {
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let before = incident(&w, "网约车纠纷");
    assert_eq!(
        w.gw.response_policy_in_force(w.g.grid.id).unwrap().name,
        "1-3-10",
        "until an admin sets another"
    );

    w.wait(HOUR);
    let set_at = w.now();
    let history =
        w.gw.set_response_policy(w.g.subdistrict.id, ResponsePolicy::wulin())
            .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].since_ms, set_at);
    assert_eq!(
        w.gw.response_policy_in_force(w.g.grid.id).unwrap().name,
        "wulin-1-5-30"
    );

    w.wait(MINUTE);
    let after = incident(&w, "儿童走失");
    for (case, on_scene) in [(&before, 10 * MINUTE), (&after, 5 * MINUTE)] {
        for step in [
            CaseAction::Acknowledge,
            CaseAction::EnRoute {
                position: Some(pos(30.261, 120.165)),
            },
        ] {
            w.gw.record_case_event(case.id, step).unwrap();
        }
        let view = w.gw.case(case.id).unwrap();
        let d = view.deadline.unwrap();
        assert_eq!(
            (d.step, d.due_ms),
            ("arrive", case.opened_at_ms + on_scene),
            "{}",
            case.title
        );
    }

    // Wulin reports back within 30 minutes; 1-3-10 sets no report-back deadline.
    let alarm =
        w.gw.raise_alarm(w.g.buildings[0].id, "厨房冒烟", "smoke", None)
            .unwrap();
    for step in [
        CaseAction::Acknowledge,
        CaseAction::Arrive {
            position: Some(pos(30.2601, 120.165)),
        },
    ] {
        w.gw.record_case_event(alarm.case.id, step).unwrap();
    }
    let d = w.gw.case(alarm.case.id).unwrap().deadline.unwrap();
    assert_eq!(
        (d.step, d.due_ms),
        ("resolve", alarm.case.opened_at_ms + 30 * MINUTE)
    );
}

#[test]
fn only_a_subdistrict_takes_a_response_policy_and_its_minutes_must_be_in_order() {
    let w = World::new(1);
    let err =
        w.gw.set_response_policy(w.g.grid.id, ResponsePolicy::wulin())
            .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "area.response_policies"),
        "{err:?}"
    );
    let mut backwards = ResponsePolicy::one_three_ten();
    backwards.name = "10-3-1".into();
    backwards.on_scene_ms = MINUTE;
    let err =
        w.gw.set_response_policy(w.g.subdistrict.id, backwards)
            .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "response_policy.on_scene_ms"),
        "{err:?}"
    );
    assert!(
        w.gw.response_policies(w.g.subdistrict.id)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_alarm_with_no_crew_on_scene_at_five_and_a_half_minutes_is_red() {
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let t0 = w.now();
    let alarm =
        w.gw.raise_alarm(w.g.buildings[0].id, "闻到烟味", "smoke", None)
            .unwrap();
    let id = alarm.case.id;
    w.wait(30 * SECOND);
    w.gw.record_case_event(id, CaseAction::Acknowledge).unwrap();
    w.wait(MINUTE);
    w.gw.record_case_event(
        id,
        CaseAction::EnRoute {
            position: Some(pos(30.2610, 120.165)),
        },
    )
    .unwrap();
    w.set_now(t0 + 3 * MINUTE);
    assert_eq!(w.gw.case(id).unwrap().colour, Some(Colour::Green));
    w.set_now(t0 + 4 * MINUTE);
    let view = w.gw.case(id).unwrap();
    assert_eq!(
        view.colour,
        Some(Colour::Yellow),
        "the last quarter of the five minutes"
    );
    w.set_now(t0 + 5 * MINUTE + 30 * SECOND);
    let view = w.gw.case(id).unwrap();
    assert_eq!(view.colour, Some(Colour::Red));
    assert_eq!(view.deadline.unwrap().due_ms, t0 + 5 * MINUTE);
    assert_eq!(view.fold.en_route_position, Some(pos(30.2610, 120.165)));
}

#[test]
fn a_live_alarm_heads_the_queue_before_hazards_overdue_for_weeks() {
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let stale = w.case(CaseKind::Hazard, "消防通道堵塞", Severity::Critical);
    w.wait(21 * DAY);
    let fire =
        w.gw.raise_alarm(w.g.buildings[0].id, "楼道起火", "fire", None)
            .unwrap();
    // Ten seconds past the minute to acknowledge: red, but far less overdue than the hazard.
    w.wait(MINUTE + 10 * SECOND);
    let queue = w.gw.open_cases().unwrap();
    let order: Vec<Uuid> = queue.iter().map(|v| v.case.id).collect();
    assert_eq!(order, [fire.case.id, stale.id]);
    assert!(queue[0].live);
    assert_eq!(queue[0].colour, Some(Colour::Red));
    assert_eq!(queue[1].colour, Some(Colour::Red));
    let in_area = w.gw.open_cases_in_area(w.g.grid.id).unwrap();
    assert_eq!(in_area[0].case.id, fire.case.id);
}

#[test]
fn a_subdistrict_sets_its_own_minutes_per_step() {
    // Neither 1-3-10 nor Wulin: receive in 2, respond in 4, on scene in 8, report back in 60,
    // fire crews on scene in 4.
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let own = ResponsePolicy {
        name: "祥符-2-4-8".into(),
        receive_ms: 2 * MINUTE,
        respond_ms: 4 * MINUTE,
        on_scene_ms: 8 * MINUTE,
        report_back_ms: Some(60 * MINUTE),
        fire_arrival_target_ms: 4 * MINUTE,
        since_ms: 0,
    };
    w.gw.set_response_policy(w.g.subdistrict.id, own.clone())
        .unwrap();
    assert_eq!(
        w.gw.response_policy_in_force(w.g.buildings[0].grid_id)
            .unwrap()
            .name,
        "祥符-2-4-8"
    );
    w.wait(SECOND);

    let event = incident(&w, "占道经营");
    let opened = event.opened_at_ms;
    let due = |w: &World| {
        let d = w.gw.case(event.id).unwrap().deadline.unwrap();
        (d.step, d.due_ms - opened)
    };
    assert_eq!(due(&w), ("acknowledge", 2 * MINUTE));
    w.gw.record_case_event(event.id, CaseAction::Acknowledge)
        .unwrap();
    assert_eq!(due(&w), ("en_route", 4 * MINUTE));
    w.gw.record_case_event(event.id, CaseAction::EnRoute { position: None })
        .unwrap();
    assert_eq!(due(&w), ("arrive", 8 * MINUTE));
    w.gw.record_case_event(event.id, CaseAction::Arrive { position: None })
        .unwrap();
    assert_eq!(due(&w), ("resolve", 60 * MINUTE));

    // A fire alarm is held to the subdistrict's four minutes: yellow from three.
    let t0 = w.now();
    let alarm =
        w.gw.raise_alarm(w.g.buildings[0].id, "电瓶车起火", "ebike_fire", None)
            .unwrap();
    // The crew sets off at once: its step (on scene within eight) alone would stay green.
    for step in [
        CaseAction::Acknowledge,
        CaseAction::EnRoute { position: None },
    ] {
        w.gw.record_case_event(alarm.case.id, step).unwrap();
    }
    w.set_now(t0 + 3 * MINUTE - SECOND);
    assert_eq!(
        w.gw.case(alarm.case.id).unwrap().colour,
        Some(Colour::Green)
    );
    w.set_now(t0 + 3 * MINUTE);
    let view = w.gw.case(alarm.case.id).unwrap();
    assert_eq!(view.colour, Some(Colour::Yellow));
    assert_eq!(
        view.deadline.map(|d| d.due_ms - alarm.case.opened_at_ms),
        Some(4 * MINUTE)
    );
}

/// The view a write returns is read in the write's own transaction, on the writer's connection
/// (ADR 0054): it must be the view every later query reads on a reader, timed by the
/// subdistrict's policy, with the step's actor and the case's fold.
#[test]
fn the_view_a_write_returns_is_the_one_a_query_reads_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = World::on_disk(2, &dir.path().join("phone.db"));
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    w.gw.set_response_policy(w.g.subdistrict.id, ResponsePolicy::wulin())
        .unwrap();
    w.wait(MINUTE);

    let alarm =
        w.gw.raise_alarm(w.g.buildings[1].id, "冒烟", "smoke", None)
            .unwrap();
    assert_eq!(alarm, w.gw.case(alarm.case.id).unwrap(), "raise_alarm");
    assert!(alarm.live, "an alarm not yet reached is live");

    let hazard =
        w.gw.open_case(crate::common::hazard(
            &w.g,
            w.g.buildings[0].id,
            "消防通道堵塞",
            Severity::High,
        ))
        .unwrap();
    assert_eq!(hazard, w.gw.case(hazard.case.id).unwrap(), "open_case");
    assert_eq!(
        hazard.fold.state.as_str(),
        "reported",
        "a new case's fold is its kind's first state"
    );

    w.wait(MINUTE);
    let acknowledged =
        w.gw.record_case_event(alarm.case.id, CaseAction::Acknowledge)
            .unwrap();
    assert_eq!(
        acknowledged,
        w.gw.case(alarm.case.id).unwrap(),
        "record_case_event"
    );
    assert_ne!(
        acknowledged.fold.state, alarm.fold.state,
        "the step moved it"
    );
    let en_route =
        w.gw.record_case_event(
            alarm.case.id,
            CaseAction::EnRoute {
                position: Some(pos(30.261, 120.165)),
            },
        )
        .unwrap();
    assert_eq!(en_route, w.gw.case(alarm.case.id).unwrap(), "en route");
    let arrive = en_route.deadline.expect("the crew's arrival is due");
    assert_eq!(
        (arrive.step, arrive.due_ms),
        ("arrive", alarm.case.opened_at_ms + 5 * MINUTE),
        "a fire crew's arrival target"
    );

    // An incident on scene in 5 minutes under 武林 1-5-30, 10 under the device's 1-3-10: the
    // view a step returns is timed by the subdistrict's policy.
    let reported = incident(&w, "网约车纠纷");
    for step in [
        CaseAction::Acknowledge,
        CaseAction::EnRoute {
            position: Some(pos(30.261, 120.165)),
        },
    ] {
        let view = w.gw.record_case_event(reported.id, step).unwrap();
        assert_eq!(view, w.gw.case(reported.id).unwrap(), "an incident's step");
        if view.fold.state.as_str() == "en_route" {
            let d = view.deadline.unwrap();
            assert_eq!(
                (d.step, d.due_ms),
                ("arrive", reported.opened_at_ms + 5 * MINUTE),
                "timed by the subdistrict's policy (武林 1-5-30), not the device's 1-3-10"
            );
        }
    }
    assert_eq!(
        w.gw.case(reported.id).unwrap().fold.state.as_str(),
        "en_route"
    );
    let timeline = w.gw.case_timeline(alarm.case.id).unwrap();
    assert!(
        timeline.iter().all(|e| e.event.actor == Some(w.me)),
        "every step names the enrolled user as its actor"
    );
}
