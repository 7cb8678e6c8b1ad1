//! A case's timeline on the phone: who took each step, when, with what it carried (the line of
//! defence, the reason, the agreement, the assignee, the resident's satisfaction) and the state
//! it led to; and the 12345 intake that names the assignee.

use gridwork_core::HotlineAssignment;
use gridwork_domain::model::*;
use gridwork_domain::workflow::{CaseAction, CaseState, DefenceLevel};
use uuid::Uuid;

use crate::workflow_world::*;

#[test]
fn the_timeline_shows_who_did_each_step_at_which_level_with_reasons_and_agreements() {
    let w = World::new(1);
    let d = w.case(CaseKind::Dispute, "楼上楼下噪音纠纷", Severity::Medium);
    let steps = [
        CaseAction::Mediate {
            level: DefenceLevel::MicroGridLeader,
        },
        CaseAction::Escalate {
            to: DefenceLevel::Gridworker,
            reason: "双方分歧较大".into(),
        },
        CaseAction::Settle {
            level: DefenceLevel::Gridworker,
            agreement: "晚十点后不使用跑步机".into(),
        },
    ];
    for step in steps {
        w.wait(MINUTE);
        w.gw.record_case_event(d.id, step).unwrap();
    }
    let timeline = w.gw.case_timeline(d.id).unwrap();
    assert_eq!(timeline.len(), 3);
    assert!(timeline.iter().all(|t| t.event.actor == Some(w.me)));
    let states: Vec<String> = timeline
        .iter()
        .map(|t| t.state.unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        [
            "mediating:micro_grid_leader",
            "mediating:gridworker",
            "settled:gridworker"
        ]
    );
    let escalation = timeline[1].event.action.details();
    assert!(escalation.contains(&("level", "网格员/村干部 gridworker".to_string())));
    assert!(escalation.contains(&("reason", "双方分歧较大".to_string())));
    let settlement = timeline[2].event.action.details();
    assert!(settlement.contains(&("agreement", "晚十点后不使用跑步机".to_string())));
    assert_eq!(timeline[2].event.action.label_zh(), "化解");
}

#[test]
fn a_12345_case_is_taken_in_and_assigned_to_a_named_user_and_the_call_back_keeps_the_answer() {
    let w = World::new(1);
    let handler = Uuid::now_v7();
    let due = w.now() + 2 * DAY;
    let view =
        w.gw.receive_hotline_case(
            Case {
                id: Uuid::nil(),
                kind: CaseKind::Hotline,
                title: "12345：夜间施工噪音".into(),
                category: "noise".into(),
                severity: Severity::Low,
                area_id: w.g.grid.id,
                building_id: None,
                household_id: None,
                position: None,
                opened_at_ms: 0,
                patrol_id: None,
            },
            Some(HotlineAssignment {
                assignee: handler,
                deadline_ms: Some(due),
            }),
        )
        .unwrap();
    assert_eq!(view.fold.state, CaseState::Assigned);
    assert_eq!(view.fold.assignee, Some(handler));
    assert_eq!(view.deadline.unwrap().due_ms, due);
    let id = view.case.id;
    for step in [CaseAction::Handle, CaseAction::CompletionReview] {
        w.gw.record_case_event(id, step).unwrap();
    }
    w.gw.record_case_event(id, CaseAction::CallBack { satisfied: false })
        .unwrap();
    let view = w.gw.case(id).unwrap();
    assert_eq!(view.fold.callback_satisfied, Some(false));
    let timeline = w.gw.case_timeline(id).unwrap();
    assert!(
        timeline[1]
            .event
            .action
            .details()
            .contains(&("assignee", handler.to_string()))
    );
    assert_eq!(
        timeline.last().unwrap().event.action.details(),
        [("satisfied", "不满意 no".to_string())]
    );
    // Only hotline cases come in this way.
    let mut hazard = view.case.clone();
    hazard.id = Uuid::nil();
    hazard.kind = CaseKind::Hazard;
    assert!(w.gw.receive_hotline_case(hazard, None).is_err());
}
