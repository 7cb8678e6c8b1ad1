//! Patrols through the store (巡查): the gridworker walks the grid, checks in at buildings,
//! reports a hazard found on the way, and ends the patrol.

use gridwork_core::Error;
use gridwork_domain::model::*;
use gridwork_domain::workflow::CaseState;

use crate::workflow_world::*;

#[test]
fn a_patrol_with_two_visits_and_a_hazard_found_on_it() {
    let w = World::new(3);
    let start = w.now();
    let patrol = w.gw.start_patrol(w.g.grid.id).unwrap();
    assert_eq!((patrol.user_id, patrol.started_at_ms), (w.me, start));

    w.wait(10 * MINUTE);
    let first =
        w.gw.visit_building(
            patrol.id,
            w.g.buildings[0].id,
            Some(pos(30.2600, 120.165)),
            None,
        )
        .unwrap();
    assert_eq!(first.at_ms, start + 10 * MINUTE);
    w.wait(15 * MINUTE);
    let b = &w.g.buildings[1];
    w.gw.visit_building(
        patrol.id,
        b.id,
        Some(pos(30.2610, 120.165)),
        Some("  楼道堆放杂物  "),
    )
    .unwrap();
    let hazard =
        w.gw.report_finding(
            patrol.id,
            b.id,
            CaseKind::Hazard,
            "消防通道堵塞",
            "blocked_exit",
            Severity::High,
        )
        .unwrap();
    assert_eq!(hazard.case.patrol_id, Some(patrol.id));
    assert_eq!(hazard.case.area_id, w.g.grid.id);
    assert_eq!(hazard.case.position, b.position);
    assert_eq!(hazard.fold.state, CaseState::Reported);
    w.wait(20 * MINUTE);
    let ended = w.gw.end_patrol(patrol.id).unwrap();
    assert_eq!(ended.ended_at_ms, Some(start + 45 * MINUTE));

    let summary = w.gw.patrol_summary(patrol.id).unwrap();
    assert_eq!(summary.visits.len(), 2);
    assert_eq!(
        summary.visits[1].note.as_deref(),
        Some("楼道堆放杂物"),
        "the note is trimmed"
    );
    assert_eq!(summary.buildings_visited, 2);
    assert_eq!(summary.duration_ms, Some(45 * MINUTE));
    assert_eq!(summary.findings.len(), 1);
    assert_eq!(summary.findings[0].case.id, hazard.case.id);
    assert_eq!(summary.findings[0].case.title, "消防通道堵塞");

    // A case opened outside the patrol is not one of its findings.
    w.case(CaseKind::Hazard, "灭火器过期", Severity::Low);
    assert_eq!(w.gw.patrol_summary(patrol.id).unwrap().findings.len(), 1);
}

#[test]
fn an_ended_patrol_takes_no_more_check_ins_but_findings_can_still_be_written_up() {
    let w = World::new(2);
    let patrol = w.gw.start_patrol(w.g.grid.id).unwrap();
    w.gw.end_patrol(patrol.id).unwrap();
    let err =
        w.gw.visit_building(patrol.id, w.g.buildings[0].id, None, None)
            .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "patrol_visit.patrol_id"),
        "{err:?}"
    );
    let err = w.gw.end_patrol(patrol.id).unwrap_err();
    assert!(err.to_string().contains("already ended"), "{err}");

    let finding =
        w.gw.report_finding(
            patrol.id,
            w.g.buildings[1].id,
            CaseKind::PatrolFinding,
            "路灯不亮",
            "street_light",
            Severity::Low,
        )
        .unwrap();
    assert_eq!(finding.fold.state, CaseState::Open);
    let err =
        w.gw.report_finding(
            patrol.id,
            w.g.buildings[1].id,
            CaseKind::Alarm,
            "冒烟",
            "smoke",
            Severity::High,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "case.kind"),
        "{err:?}"
    );
}

#[test]
fn a_phone_with_no_user_cannot_start_a_patrol() {
    let clock = crate::common::TestClock::at(crate::common::MORNING_MS);
    let gw = gridwork_core::Gridwork::open_in_memory(clock.options()).unwrap();
    let g = crate::common::grid_with_buildings(&gw, 1);
    let err = gw.start_patrol(g.grid.id).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(v) if v.field == "patrol.user_id"),
        "{err:?}"
    );
}

/// Issue 26: visits are chained as they are made; a visit removed, inserted or back-dated after
/// the fact breaks the chain, and the weekly brief counts only patrols whose chain verifies.
#[test]
fn a_patrol_with_a_visit_removed_after_the_fact_is_flagged_and_left_out_of_the_brief() {
    use gridwork_domain::workflow::patrol_chain::ChainVerdict;

    let w = World::new(3);
    let walk = |n: usize| {
        let patrol = w.gw.start_patrol(w.g.grid.id).unwrap();
        let mut visits = vec![];
        for b in w.g.buildings.iter().take(n) {
            w.wait(5 * MINUTE);
            visits.push(
                w.gw.visit_building(patrol.id, b.id, b.position, None)
                    .unwrap(),
            );
        }
        w.wait(5 * MINUTE);
        let ended = w.gw.end_patrol(patrol.id).unwrap();
        assert!(ended.chain_head.is_some(), "sealed when it ends");
        (patrol, visits)
    };
    let (kept, _) = walk(2);
    let (tampered, visits) = walk(3);
    assert!(visits.iter().all(|v| v.chain.is_some()), "chained as made");
    assert_eq!(w.gw.verify_patrol(kept.id).unwrap(), ChainVerdict::Intact);
    assert_eq!(
        w.gw.verify_patrol(tampered.id).unwrap(),
        ChainVerdict::Intact
    );
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    assert_eq!(
        w.gw.weekly_brief(w.g.grid.id, monday)
            .unwrap()
            .patrol_visits,
        5
    );

    // The middle visit taken out later: the one after it no longer follows.
    w.gw.delete::<PatrolVisit>(visits[1].id).unwrap();
    let verdict = w.gw.verify_patrol(tampered.id).unwrap();
    assert!(
        matches!(verdict, ChainVerdict::Broken { visit: Some(v), .. } if v == visits[2].id),
        "{verdict:?}"
    );
    assert_eq!(
        w.gw.weekly_brief(w.g.grid.id, monday)
            .unwrap()
            .patrol_visits,
        2,
        "only the intact patrol counts"
    );

    // Back-dating a visit of the other patrol breaks it too.
    let first = w.gw.patrol_summary(kept.id).unwrap().visits[0].clone();
    w.gw.update::<PatrolVisit>(first.id, |v| v.at_ms -= 2 * HOUR)
        .unwrap();
    assert!(!w.gw.verify_patrol(kept.id).unwrap().is_intact());
    assert_eq!(
        w.gw.weekly_brief(w.g.grid.id, monday)
            .unwrap()
            .patrol_visits,
        0
    );
}

/// ADR 0030: a patrol made before visits were chained (no link anywhere) is neither proven nor
/// broken: the brief counts its visits apart, as legacy, never in the ranking; a broken chain
/// is counted nowhere.
#[test]
fn visits_of_patrols_from_before_chaining_are_counted_apart_as_legacy() {
    use gridwork_domain::workflow::patrol_chain::ChainVerdict;

    let w = World::new(3);
    let walk = |n: usize| {
        let patrol = w.gw.start_patrol(w.g.grid.id).unwrap();
        let mut visits = vec![];
        for b in w.g.buildings.iter().take(n) {
            w.wait(5 * MINUTE);
            visits.push(
                w.gw.visit_building(patrol.id, b.id, b.position, None)
                    .unwrap(),
            );
        }
        w.wait(5 * MINUTE);
        w.gw.end_patrol(patrol.id).unwrap();
        (patrol, visits)
    };
    // An old patrol as an app from before chaining wrote it: no sealed head, no links.
    let start = w.now();
    let old =
        w.gw.create(Patrol {
            id: gridwork_core::new_id(),
            user_id: w.me,
            area_id: w.g.grid.id,
            started_at_ms: start,
            ended_at_ms: Some(start + 30 * MINUTE),
            chain_head: None,
        })
        .unwrap();
    for (i, b) in w.g.buildings.iter().take(2).enumerate() {
        w.gw.create(PatrolVisit {
            id: gridwork_core::new_id(),
            patrol_id: old.id,
            building_id: b.id,
            at_ms: start + (i as u64 + 1) * 5 * MINUTE,
            position: b.position,
            note: None,
            chain: None,
        })
        .unwrap();
    }
    w.wait(HOUR);
    let (chained, _) = walk(3);
    assert_eq!(w.gw.verify_patrol(old.id).unwrap(), ChainVerdict::Unchained);
    assert_eq!(
        w.gw.verify_patrol(chained.id).unwrap(),
        ChainVerdict::Intact
    );

    let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let brief = w.gw.weekly_brief(w.g.grid.id, monday).unwrap();
    assert_eq!(brief.patrol_visits, 3, "only the verified chain counts");
    assert_eq!(brief.legacy_patrol_visits, 2, "the old patrol, apart");
    assert_eq!(
        brief.grids[0].patrol_visits, 3,
        "the ranking sees the chain only"
    );
    let md = brief.to_markdown();
    assert!(
        md.contains("链前旧巡查打卡（未链，单列） Legacy visits of patrols from before chaining (unchained, shown apart): 2"),
        "{md}"
    );
    assert!(
        brief
            .to_markdown_in(gridwork_i18n::Lang::En)
            .contains("Legacy visits of patrols from before chaining (unchained, shown apart): 2")
    );

    // A chain broken later is counted nowhere, not even as legacy.
    let summary = w.gw.patrol_summary(chained.id).unwrap();
    w.gw.delete::<PatrolVisit>(summary.visits[1].id).unwrap();
    let brief = w.gw.weekly_brief(w.g.grid.id, monday).unwrap();
    assert_eq!((brief.patrol_visits, brief.legacy_patrol_visits), (0, 2));
}
