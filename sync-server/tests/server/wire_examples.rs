//! The JSON shapes of the wire types, checked field by field. `docs/sync-protocol.md` quotes
//! them; run `cargo test -p gridwork-server --test server wire_examples -- --nocapture` to print
//! them again after a change.

use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::*;
use gridwork_domain::workflow::{CaseAction, CaseEvent};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Phone;

fn show(name: &str, value: &impl serde::Serialize) -> Value {
    let v = serde_json::to_value(value).unwrap();
    println!("--- {name}\n{}", serde_json::to_string_pretty(&v).unwrap());
    v
}

#[test]
fn the_wire_shapes_are_the_documented_ones() {
    let device = Uuid::parse_str("0193a5c2-7d41-7c3e-9b7a-2f4e8d1c6a01").unwrap();
    let household = Uuid::parse_str("0193a5c2-8e10-7a55-8c2d-5b1f0e9a7d42").unwrap();
    let mut phone = Phone::new(device, String::new());
    phone.clock = gridwork_domain::hlc::HlcClock::new(Hlc::new(1_795_395_600_000, 0), 0);
    let mut op = phone.set(
        EntityKind::Household,
        household,
        json!({ "phone": "13800138000" }),
    );
    op.id = Uuid::parse_str("0193a5c2-9f00-7b12-a3c4-0d9e8f7a6b53").unwrap();
    op.stamp = Stamp::new(Hlc::new(1_795_395_600_000, 0), device);
    if let gridwork_domain::op::OpBody::Set { fields } = &mut op.body {
        fields.get_mut("phone").unwrap().base =
            Some(Stamp::new(Hlc::new(1_795_300_000_000, 2), device));
    }

    let enroll = show(
        "EnrollRequest",
        &EnrollRequest {
            code: "K7QM-2XWD-9HTR".into(),
            device_id: device,
            device_name: "张伟的手机".into(),
        },
    );
    assert_eq!(enroll["device_id"], device.to_string());

    let push = show(
        "PushRequest",
        &PushRequest {
            ops: vec![op.clone()],
        },
    );
    assert_eq!(push["ops"][0]["body"]["type"], "set");
    assert_eq!(push["ops"][0]["entity"], "household");
    assert_eq!(
        push["ops"][0]["stamp"]["hlc"],
        json!(Hlc::new(1_795_395_600_000, 0).as_u64())
    );

    let answer = show(
        "PushResponse",
        &PushResponse {
            results: vec![
                PushResult {
                    op_id: op.id,
                    outcome: PushOutcome::Accepted { seq: 42 },
                },
                PushResult {
                    op_id: Uuid::nil(),
                    outcome: PushOutcome::Duplicate { seq: 17 },
                },
                PushResult {
                    op_id: Uuid::max(),
                    outcome: PushOutcome::Rejected {
                        code: RejectCode::Invalid,
                        message: "resident.id_number: the check digit does not match".into(),
                    },
                },
            ],
            server_time_ms: 1_795_395_600_123,
            records: vec![],
            events: vec![],
            evict: vec![Uuid::max()],
        },
    );
    assert_eq!(answer["evict"], json!([Uuid::max()]));
    assert!(answer.get("records").is_none(), "empty lists are left out");
    assert_eq!(
        answer["results"][0],
        json!({ "op_id": op.id, "outcome": "accepted", "seq": 42 })
    );
    assert_eq!(answer["results"][2]["code"], "invalid");

    let pull = show(
        "PullResponse",
        &PullResponse {
            ops: vec![SequencedOp { seq: 42, op }],
            next: 42,
            more: false,
            server_time_ms: 1_795_395_600_456,
            records: vec![],
            events: vec![],
            evict: vec![],
            user: Some(UserScope {
                role: Role::Gridworker,
                scope: vec![household],
                anchors: vec![],
            }),
        },
    );
    assert_eq!(pull["ops"][0]["seq"], 42);

    let enrolled = show(
        "EnrollResponse",
        &EnrollResponse {
            token: format!("{}.{}", device.simple(), "3f".repeat(32)),
            user_id: household,
            user_name: "张伟".into(),
            role: Role::Gridworker,
            scope: vec![household],
            anchors: vec![],
            server_time_ms: 1_795_395_600_000,
        },
    );
    assert_eq!(enrolled["role"], "gridworker");

    let case = Uuid::parse_str("0193a5c3-0a00-7c01-8d02-1e2f3a4b5c6d").unwrap();
    let mut record = RecordState::new(EntityKind::Case, case);
    let stamp = Stamp::new(Hlc::new(1_795_395_600_000, 0), device);
    record
        .fields
        .insert("title".into(), json!("楼道电瓶车充电"));
    record.stamps.insert("title".into(), stamp);
    let event = CaseEvent {
        id: Uuid::parse_str("0193a5c3-1b00-7d02-9e03-2f3a4b5c6d7e").unwrap(),
        case_id: case,
        stamp,
        actor: None,
        action: CaseAction::Assign {
            assignee: None,
            deadline_ms: Some(1_795_482_000_000),
        },
    };
    let snapshot = show(
        "SnapshotResponse",
        &SnapshotResponse {
            seq: 42,
            records: vec![record],
            events: vec![event],
            next_after: Some(case),
            server_time_ms: 1_795_395_600_789,
            total_records: Some(8214),
        },
    );
    assert_eq!(
        snapshot["records"][0]["stamps"]["title"]["hlc"],
        json!(stamp.hlc.as_u64())
    );
    assert_eq!(snapshot["events"][0]["action"]["type"], "assign");
    assert_eq!(snapshot["next_after"], case.to_string());
    assert_eq!(snapshot["total_records"], 8214);
    // Later pages (and older servers) leave it out, and a page without it still reads.
    let later: SnapshotResponse = serde_json::from_value(json!({
        "seq": 42, "records": [], "events": [], "next_after": null, "server_time_ms": 1
    }))
    .unwrap();
    assert_eq!(later.total_records, None);
    assert!(
        serde_json::to_value(&later)
            .unwrap()
            .get("total_records")
            .is_none()
    );

    let error = show(
        "ErrorBody",
        &ErrorBody {
            error: "unsupported_version".into(),
            message: "this server speaks protocol v1 only (paths under /v1/)".into(),
        },
    );
    assert_eq!(error["error"], "unsupported_version");
}
