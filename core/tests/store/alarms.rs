//! Fire alarms through the store: a resident smells smoke, the gridworker raises the alarm, the
//! nearest (or the building's own) micro fire station is dispatched in the same transaction,
//! and the crew's arrival time is the figure.

use gridwork_core::Error;
use gridwork_domain::model::*;
use gridwork_domain::workflow::{CaseAction, CaseState};

use crate::workflow_world::*;

#[test]
fn a_fire_alarm_at_a_building_with_an_assigned_station_is_dispatched_there() {
    let w = World::new(3);
    let b = &w.g.buildings[0];
    // The building's own station is farther away than another: it still gets the call, it
    // knows the building and its water points.
    let near = w.station("湖滨微型消防站", pos(30.2601, 120.165));
    let own = w.station("梅花碑微型消防站", pos(30.2700, 120.165));
    w.gw.update::<Building>(b.id, |b| b.station_id = Some(own.id))
        .unwrap();
    let before = w.gw.pending_count().unwrap();

    let alarm = w.gw.raise_alarm(b.id, "3幢2楼冒烟", "smoke", None).unwrap();

    assert_eq!(alarm.case.kind, CaseKind::Alarm);
    assert_eq!(alarm.fold.state, CaseState::Dispatched);
    assert_eq!(alarm.fold.dispatched_station, Some(own.id));
    assert_ne!(alarm.fold.dispatched_station, Some(near.id));
    assert_eq!(
        alarm.case.area_id, w.g.grid.id,
        "the alarm hangs off the building's grid"
    );
    assert_eq!(alarm.case.building_id, Some(b.id));
    assert_eq!(alarm.case.position, b.position);
    assert_eq!(alarm.case.severity, Severity::High);
    assert_eq!(alarm.case.opened_at_ms, w.now());
    assert_eq!(
        w.gw.pending_count().unwrap(),
        before + 2,
        "the case and its dispatch, queued together"
    );
    let timeline = w.gw.case_timeline(alarm.case.id).unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(
        timeline[0].event.action,
        CaseAction::Dispatch { station_id: own.id }
    );
    assert_eq!(timeline[0].event.actor, Some(w.me));
    assert_eq!(
        w.gw.available_actions(alarm.case.id).unwrap(),
        vec!["dispatch", "acknowledge"]
    );
}

#[test]
fn a_fire_alarm_at_a_building_with_no_station_goes_to_the_nearest() {
    let w = World::new(3);
    // Building 2 stands at latitude 30.262.
    let b = &w.g.buildings[2];
    w.station("湖滨微型消防站", pos(30.2500, 120.165));
    let nearest = w.station("小营微型消防站", pos(30.2630, 120.165));
    w.station("武林微型消防站", pos(30.2800, 120.165));

    let alarm =
        w.gw.raise_alarm(b.id, "电动车起火", "ebike_fire", Some(Severity::Critical))
            .unwrap();

    assert_eq!(alarm.fold.dispatched_station, Some(nearest.id));
    assert_eq!(alarm.case.severity, Severity::Critical);
}

#[test]
fn no_station_known_refuses_the_alarm_with_a_clear_message_and_writes_nothing() {
    let w = World::new(1);
    let before = w.gw.pending_count().unwrap();
    let err =
        w.gw.raise_alarm(w.g.buildings[0].id, "冒烟", "smoke", None)
            .unwrap_err();
    let Error::Invalid(v) = &err else {
        panic!("expected a validation error, got {err:?}")
    };
    assert_eq!(v.field, "alarm.station");
    assert!(v.problem.contains("no micro fire station"), "{}", v.problem);
    assert!(
        v.problem.contains("by hand"),
        "it says what to do instead: {}",
        v.problem
    );
    assert_eq!(w.gw.pending_count().unwrap(), before);
    assert!(w.gw.open_cases().unwrap().is_empty());

    // A building with no position and no assigned station cannot find the nearest one either.
    w.station("湖滨微型消防站", pos(30.2500, 120.165));
    let b =
        w.gw.update::<Building>(w.g.buildings[0].id, |b| b.position = None)
            .unwrap();
    let err = w.gw.raise_alarm(b.id, "冒烟", "smoke", None).unwrap_err();
    assert!(err.to_string().contains("no position"), "{err}");
}

/// Raises an alarm now; the crew acknowledges after 20 s, sets off after 1 minute and is on
/// scene after `minutes`.
fn crew_arrives_after(w: &World, minutes: u64) -> uuid::Uuid {
    let start = w.now();
    let alarm =
        w.gw.raise_alarm(w.g.buildings[0].id, "厨房起火", "kitchen_fire", None)
            .unwrap();
    let id = alarm.case.id;
    assert_eq!(
        w.gw.alarm_arrival(id).unwrap(),
        None,
        "nobody has arrived yet"
    );
    w.set_now(start + 20 * SECOND);
    w.gw.record_case_event(id, CaseAction::Acknowledge).unwrap();
    w.set_now(start + MINUTE);
    w.gw.record_case_event(
        id,
        CaseAction::EnRoute {
            position: Some(pos(30.2601, 120.165)),
        },
    )
    .unwrap();
    w.set_now(start + minutes * MINUTE);
    let on_scene =
        w.gw.record_case_event(
            id,
            CaseAction::Arrive {
                position: Some(pos(30.2600, 120.1651)),
            },
        )
        .unwrap();
    assert_eq!(on_scene.fold.state, CaseState::OnScene);
    id
}

#[test]
fn the_crew_arrives_in_4_minutes_within_target_and_in_7_not() {
    let w = World::new(1);
    let station = w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let week_start = w.now();

    let quick = crew_arrives_after(&w, 4);
    let fig = w.gw.alarm_arrival(quick).unwrap().unwrap();
    assert_eq!(fig.minutes, 4.0);
    assert!(fig.within_target);
    assert_eq!(fig.station_id, Some(station.id));

    w.wait(HOUR);
    let slow = crew_arrives_after(&w, 7);
    let fig = w.gw.alarm_arrival(slow).unwrap().unwrap();
    assert_eq!(fig.minutes, 7.0);
    assert!(
        !fig.within_target,
        "seven minutes is outside the five-minute circle"
    );

    // A third alarm whose crew has not arrived yet.
    w.wait(HOUR);
    w.gw.raise_alarm(w.g.buildings[0].id, "楼道冒烟", "smoke", None)
        .unwrap();

    let stats =
        w.gw.arrival_stats(w.g.subdistrict.id, week_start, w.now() + 1)
            .unwrap();
    assert_eq!(stats.alarms, 3);
    assert_eq!(stats.without_arrival, 1);
    let s = stats.stats.unwrap();
    assert_eq!(s.count, 2);
    assert_eq!(s.median_minutes, 5.5);
    assert_eq!(s.worst_minutes, 7.0);
    assert_eq!(s.share_within_target, 0.5);

    // The period is half-open: the alarm opened exactly at its end is not in it.
    let before_last =
        w.gw.arrival_stats(w.g.grid.id, week_start, w.now())
            .unwrap();
    assert_eq!(before_last.alarms, 2);
}

#[test]
fn exactly_five_minutes_is_within_target() {
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let id = crew_arrives_after(&w, 5);
    assert!(w.gw.alarm_arrival(id).unwrap().unwrap().within_target);
}
