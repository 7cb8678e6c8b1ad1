//! The weekly brief through the store (周二例会 / 工作简报): a week in a grid, the brief made on
//! the Tuesday after, its figures and its Markdown.

use chrono::NaiveDate;
use gridwork_domain::model::*;
use gridwork_domain::workflow::{CaseAction, DefenceLevel};

use crate::common::*;
use crate::workflow_world::*;

/// A week in 梅花碑第一网格, Monday 2026-11-23 to Sunday 11-29.
fn a_week(w: &World) {
    let monday = w.now();
    w.station("梅花碑微型消防站", pos(30.2610, 120.165));

    // Monday: an e-bike charged in the stairwell, assigned, fixed Tuesday, rechecked Wednesday.
    let ebike = w.case(CaseKind::Hazard, "电动车楼道充电", Severity::Medium);
    w.gw.record_case_event(
        ebike.id,
        CaseAction::Assign {
            assignee: Some(w.me),
            deadline_ms: None,
        },
    )
    .unwrap();
    // Monday: a blocked fire exit, critical (a day to fix): still not fixed at week end.
    let exit = w.case(CaseKind::Hazard, "安全出口堵塞", Severity::Critical);
    w.set_now(monday + DAY);
    w.gw.record_case_event(ebike.id, CaseAction::Fix).unwrap();

    // Tuesday: neighbours fall out over a leak; the gridworker cannot settle it, the village
    // secretary does, the same afternoon.
    let leak = w.case(CaseKind::Dispute, "楼上漏水邻里纠纷", Severity::Medium);
    let mediate = CaseAction::Mediate {
        level: DefenceLevel::Gridworker,
    };
    w.gw.record_case_event(leak.id, mediate).unwrap();
    w.wait(2 * HOUR);
    let escalate = CaseAction::Escalate {
        to: DefenceLevel::VillageSecretary,
        reason: "双方各执一词".into(),
    };
    w.gw.record_case_event(leak.id, escalate).unwrap();
    w.wait(3 * HOUR);
    let settle = CaseAction::Settle {
        level: DefenceLevel::VillageSecretary,
        agreement: "楼上修补防水，赔偿楼下500元".into(),
    };
    w.gw.record_case_event(leak.id, settle).unwrap();
    w.gw.record_case_event(leak.id, CaseAction::Close).unwrap();

    // Wednesday: the e-bike recheck passes; in the evening a kitchen fire, the crew on scene
    // in 4 minutes.
    w.set_now(monday + 2 * DAY);
    w.gw.record_case_event(ebike.id, CaseAction::Recheck { passed: true })
        .unwrap();
    w.wait(10 * HOUR);
    let fire =
        w.gw.raise_alarm(w.g.buildings[0].id, "厨房起火", "kitchen_fire", None)
            .unwrap();
    w.wait(30 * SECOND);
    w.gw.record_case_event(fire.case.id, CaseAction::Acknowledge)
        .unwrap();
    w.wait(3 * MINUTE + 30 * SECOND);
    w.gw.record_case_event(fire.case.id, CaseAction::Arrive { position: None })
        .unwrap();

    // Tenants: three rental rooms in building 1, two registered.
    let b = &w.g.buildings[1];
    for (i, unit) in ["1-101", "1-102", "1-103"].iter().enumerate() {
        let room = household(&w.gw, b.id, unit, HouseholdKind::Rental);
        if i < 2 {
            let t = w.tenant(room.id, &format!("租客{i}"), i as u16 + 1);
            w.gw.check_in(
                t.id,
                room.id,
                NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                None,
            )
            .unwrap();
        }
    }

    // The meeting, Tuesday 12-01: the blocked exit was cleared that morning, after the week.
    w.set_now(monday + 8 * DAY);
    w.gw.record_case_event(exit.id, CaseAction::Fix).unwrap();
    w.wait(HOUR);
}

#[test]
fn the_brief_of_a_week_with_cases_a_dispute_settled_by_the_village_secretary_and_an_alarm() {
    let w = World::new(2);
    a_week(&w);
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    assert_eq!(
        w.gw.review_week(),
        monday,
        "on Tuesday 12-01 the meeting reviews Monday 11-23 to Sunday 11-29"
    );
    let brief = w.gw.weekly_brief(w.g.subdistrict.id, monday).unwrap();
    assert!(!brief.week_not_over);

    assert_eq!(brief.area_name, "北山街道");
    assert_eq!(
        brief.week_end,
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    );
    let hazards = brief
        .cases
        .iter()
        .find(|c| c.kind == CaseKind::Hazard)
        .unwrap();
    assert_eq!(
        (hazards.opened, hazards.closed, hazards.open_at_week_end),
        (2, 1, 1)
    );
    assert_eq!((brief.hazards.found, brief.hazards.fixed), (2, 1));
    assert_eq!(
        brief.colours.red, 1,
        "the blocked exit, fixed only after the week, was red"
    );
    assert_eq!(brief.red_cases[0].title, "安全出口堵塞");
    assert_eq!(brief.red_cases[0].step, "fix");
    assert_eq!(brief.disputes.settled, 1);
    assert_eq!(
        brief.disputes.settled_inside_grid, 0,
        "the village secretary is outside the grid"
    );
    assert_eq!(brief.disputes.share_inside_village, Some(1.0));
    assert_eq!(brief.alarms.opened, 1);
    assert_eq!(brief.alarms.arrival.as_ref().unwrap().median_minutes, 4.0);
    assert_eq!(
        (
            brief.registration.rate.registered_rooms,
            brief.registration.rate.occupied_rental_rooms
        ),
        (2, 3)
    );
    assert_eq!(brief.registration.unregistered_rooms, 1);
    assert_eq!(brief.grids.len(), 1);
    assert_eq!(brief.grids[0].grid_name, "梅花碑第一网格");

    let md = brief.to_markdown();
    for figure in [
        "# 工作简报 Weekly brief: 北山街道",
        "2026-11-23 – 2026-11-29",
        "| 隐患 Hazard | 2 | 1 | 1 |",
        "| 矛盾纠纷 Dispute | 1 | 1 | 0 |",
        "| 火警 Fire alarm | 1 | 0 | 1 |",
        "红 Red 1 · 黄 Yellow 0 · 绿 Green 0",
        "| 梅花碑第一网格 | 安全出口堵塞 | 隐患 Hazard | fix |",
        "| 村书记 village secretary | 1 |",
        "Settled inside the grid: 0.0% · 大事不出村社 Inside the village: 100.0%",
        "到场中位数 Median arrival: 4.0 分钟 min",
        "5 分钟内到场 Within 5 minutes: 100.0% (1 起 arrivals)",
        "小事不过夜 Small ones settled overnight: 100.0% (1/1)",
        "现行 In force: 1-3-10",
        "按人 Per person 100.0% (2/2 人 people) · 按间 Per room 66.7% (2/3 间 rooms)",
        "待登记 To register: 0 人 people in 1 间 rooms",
        "发现 Found 2 · 整改复查通过 Fixed and rechecked 1 · 未结 Open 1",
        "| 1 | 梅花碑第一网格 | 1 | 100.0% | 1 |",
    ] {
        assert!(
            md.contains(figure),
            "the brief should contain {figure:?}:\n{md}"
        );
    }

    let json = serde_json::to_value(&brief).unwrap();
    assert_eq!(json["alarms"]["arrival"]["median_minutes"], 4.0);
    assert_eq!(json["disputes"]["settled"], 1);
}

#[test]
fn the_brief_of_a_grid_and_of_the_week_before_count_only_their_own() {
    let w = World::new(2);
    a_week(&w);
    let grid_brief =
        w.gw.weekly_brief(w.g.grid.id, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
            .unwrap();
    assert_eq!(grid_brief.area_name, "梅花碑第一网格");
    assert_eq!(grid_brief.cases.iter().map(|c| c.opened).sum::<usize>(), 4);

    let before =
        w.gw.weekly_brief(
            w.g.subdistrict.id,
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
        )
        .unwrap();
    assert_eq!(before.cases.iter().map(|c| c.opened).sum::<usize>(), 0);
    assert_eq!(before.alarms.opened, 0);
    assert_eq!(
        before.registration.rate.registered_rooms, 2,
        "the stays began on 11-01, before that week ended"
    );
}

#[test]
fn a_case_filed_against_the_community_is_counted_in_a_row_of_its_own() {
    let w = World::new(1);
    let hotline = w.case(CaseKind::Hotline, "噪音扰民", Severity::Low);
    w.gw.update::<Case>(hotline.id, |c| c.area_id = w.g.community.id)
        .unwrap();
    let brief =
        w.gw.weekly_brief(
            w.g.community.id,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        )
        .unwrap();
    let line = brief
        .cases
        .iter()
        .find(|c| c.kind == CaseKind::Hotline)
        .unwrap();
    assert_eq!(line.opened, 1);
    assert_eq!(brief.grids.len(), 2);
    assert!(
        brief
            .grids
            .iter()
            .any(|g| g.grid_name.contains("网格外") && g.cases_opened == 1)
    );
}

#[test]
fn the_brief_of_a_seeded_subdistrict_ranks_every_grid_and_agrees_with_the_other_figures() {
    use gridwork_core::seed::{SeedSize, seed_subdistrict};
    let clock = TestClock::at(MORNING_MS);
    let gw = gridwork_core::Gridwork::open_in_memory(clock.options()).unwrap();
    let size = SeedSize {
        grid_layers: 1,
        communities: 2,
        grids: 2,
        buildings: 6,
        households: 4,
        stations: 1,
    };
    let s = seed_subdistrict(&gw, 11, size, |_, _| {}).unwrap();
    let sub = s.subdistrict.unwrap();
    // Every seeded building has a station: an alarm in each grid is dispatched there.
    for grid in &s.grids {
        let b = s.buildings.iter().find(|b| b.grid_id == grid.id).unwrap();
        let alarm = gw.raise_alarm(b.id, "冒烟", "smoke", None).unwrap();
        assert_eq!(alarm.fold.dispatched_station, b.station_id);
    }

    let brief = gw
        .weekly_brief(sub.id, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
        .unwrap();
    assert_eq!(brief.grids.len(), 4);
    let mut ranks: Vec<usize> = brief.grids.iter().map(|g| g.rank).collect();
    ranks.sort();
    assert_eq!(ranks[0], 1);
    assert_eq!(brief.alarms.opened, 4);
    assert_eq!(
        brief.registration.rate,
        gw.registration_rate(sub.id).unwrap().area
    );
    let in_key_group = s
        .residents
        .iter()
        .filter(|r| !r.key_groups.is_empty())
        .count();
    assert_eq!(brief.key_groups.residents, in_key_group);
    // The seed visited most key-group residents in the last nine days: some are overdue, not
    // all; and visits only age, so the week's end has at least as many overdue as now.
    let overdue_now = gw.overdue_visits(sub.id).unwrap().len();
    assert!(overdue_now <= brief.key_groups.overdue_at_week_end);
    assert!(brief.key_groups.overdue_at_week_end < in_key_group);
    assert_eq!(
        gw.unregistered_rooms(sub.id).unwrap().len(),
        brief.registration.unregistered_rooms,
        "the brief and the list of rooms to knock on agree"
    );
    assert!(
        brief.registration.rate.room_rate > 0.5,
        "the seed registers most rented rooms"
    );
    assert!(
        brief.registration.rate.person_rate < brief.registration.rate.room_rate,
        "and not every lodger in them: per person is lower"
    );
    assert_eq!(
        gw.unregistered_tenants(sub.id).unwrap().len(),
        brief.registration.unregistered_people,
        "the brief and the list of people to register agree"
    );
}
