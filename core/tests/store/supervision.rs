//! Supervision through the store (红黄绿三色督办): the colours turn at their exact boundaries on
//! the phone's clock, and "my open cases" puts the most urgent first.

use gridwork_domain::model::*;
use gridwork_domain::workflow::{CaseAction, Colour, DefenceLevel};
use uuid::Uuid;

use crate::workflow_world::*;

#[test]
fn an_alarm_not_yet_received_turns_yellow_at_45_seconds_and_red_after_the_minute() {
    let w = World::new(1);
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));
    let t0 = w.now();
    let alarm =
        w.gw.raise_alarm(w.g.buildings[0].id, "冒烟", "smoke", None)
            .unwrap();
    let id = alarm.case.id;
    let deadline = alarm.deadline.unwrap();
    assert_eq!(
        (deadline.step, deadline.due_ms),
        ("acknowledge", t0 + MINUTE)
    );

    let colour_at = |ms: u64| {
        w.set_now(ms);
        w.gw.case(id).unwrap().colour.unwrap()
    };
    assert_eq!(colour_at(t0 + 45 * SECOND - 1), Colour::Green);
    assert_eq!(
        colour_at(t0 + 45 * SECOND),
        Colour::Yellow,
        "the last quarter of the minute"
    );
    assert_eq!(
        colour_at(t0 + MINUTE),
        Colour::Yellow,
        "at the due millisecond: not late yet"
    );
    assert_eq!(colour_at(t0 + MINUTE + 1), Colour::Red);
    // The lists use the same clock.
    assert_eq!(w.gw.my_open_cases().unwrap()[0].colour, Some(Colour::Red));
}

#[test]
fn a_small_dispute_is_due_at_midnight_china_time_the_day_it_was_opened() {
    let w = World::new(1);
    // 09:00 China time; the day ends 15 hours later, at 23:59:59.999.
    let t0 = w.now();
    let d = w.case(CaseKind::Dispute, "楼上漏水邻里纠纷", Severity::Low);
    let midnight = t0 + 15 * HOUR - 1;
    assert_eq!(w.gw.case(d.id).unwrap().deadline.unwrap().due_ms, midnight);
    w.gw.record_case_event(
        d.id,
        CaseAction::Mediate {
            level: DefenceLevel::Gridworker,
        },
    )
    .unwrap();
    w.set_now(midnight);
    assert_eq!(w.gw.case(d.id).unwrap().colour, Some(Colour::Yellow));
    w.set_now(midnight + 1);
    assert_eq!(
        w.gw.case(d.id).unwrap().colour,
        Some(Colour::Red),
        "小事不过夜"
    );
}

#[test]
fn my_open_cases_are_mine_and_the_unassigned_most_urgent_first() {
    let w = World::new(1);
    let colleague = Uuid::now_v7();
    let assign = |case: &Case, to: Option<Uuid>| {
        w.gw.record_case_event(
            case.id,
            CaseAction::Assign {
                assignee: to,
                deadline_ms: None,
            },
        )
        .unwrap();
    };

    // Opened first: a critical hazard (fix within a day) assigned to me; it will be red.
    let blocked_exit = w.case(CaseKind::Hazard, "安全出口堵塞", Severity::Critical);
    assign(&blocked_exit, Some(w.me));
    // A colleague's hazard: not mine.
    let theirs = w.case(CaseKind::Hazard, "违章搭建", Severity::Critical);
    assign(&theirs, Some(colleague));
    // A low hazard (15 days) nobody has taken yet: mine to pick up, green.
    let ebike = w.case(CaseKind::Hazard, "电动车楼道充电", Severity::Low);
    // A hazard fixed on the spot and rechecked: closed, not in the queue.
    let done = w.case(CaseKind::Hazard, "灭火器过期", Severity::Medium);
    w.gw.record_case_event(done.id, CaseAction::Fix).unwrap();
    w.gw.record_case_event(done.id, CaseAction::Recheck { passed: true })
        .unwrap();
    assert!(w.gw.available_actions(done.id).unwrap().is_empty());

    w.wait(DAY + 1);
    // A big dispute opened now (30 days): unassigned by nature, green.
    let dispute = w.case(CaseKind::Dispute, "宅基地纠纷", Severity::High);

    let mine: Vec<Uuid> =
        w.gw.my_open_cases()
            .unwrap()
            .iter()
            .map(|v| v.case.id)
            .collect();
    assert_eq!(mine, vec![blocked_exit.id, ebike.id, dispute.id]);
    let queue = w.gw.my_open_cases().unwrap();
    assert_eq!(queue[0].colour, Some(Colour::Red));
    assert_eq!(queue[1].colour, Some(Colour::Green));

    let all: Vec<Uuid> =
        w.gw.open_cases()
            .unwrap()
            .iter()
            .map(|v| v.case.id)
            .collect();
    assert_eq!(all.len(), 4);
    assert!(all.contains(&theirs.id) && !all.contains(&done.id));
    assert_eq!(
        all[..2],
        [blocked_exit.id, theirs.id],
        "the two red ones first, older id first"
    );

    // Handing my case to the colleague takes it out of my queue.
    assign(&blocked_exit, Some(colleague));
    assert!(
        !w.gw
            .my_open_cases()
            .unwrap()
            .iter()
            .any(|v| v.case.id == blocked_exit.id)
    );
}

#[test]
fn the_buttons_follow_the_hazard_through_its_lifecycle() {
    let w = World::new(1);
    let h = w.case(CaseKind::Hazard, "电动车楼道充电", Severity::Medium);
    assert_eq!(w.gw.available_actions(h.id).unwrap(), vec!["assign", "fix"]);
    w.gw.record_case_event(h.id, CaseAction::Fix).unwrap();
    assert_eq!(w.gw.available_actions(h.id).unwrap(), vec!["recheck"]);
    assert!(
        w.gw.available_actions(Uuid::now_v7()).is_err(),
        "an unknown case is not found"
    );
}
