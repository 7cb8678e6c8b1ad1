//! Operations and contexts for the storage's unit tests.

use gridwork_domain::hlc::{HlcClock, Stamp};
use gridwork_domain::model::{Area, AreaLevel};
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::Role;
use uuid::Uuid;

use crate::rules::PushContext;

/// A district created by an admin: one operation the planner accepts.
pub fn district(clock: &mut HlcClock, device: Uuid, n: usize) -> Op {
    let area = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::District,
        code: format!("3301{n:02}"),
        name: format!("第{n}区"),
        parent_id: None,
        response_policies: vec![],
    };
    let serde_json::Value::Object(mut fields) = serde_json::to_value(&area).unwrap() else {
        unreachable!()
    };
    fields.remove("id");
    Op {
        id: Uuid::now_v7(),
        stamp: Stamp::new(clock.tick(crate::clock::now_ms()).unwrap(), device),
        entity: EntityKind::Area,
        entity_id: area.id,
        body: OpBody::Set {
            fields: FieldWrite::first_writes(&fields),
        },
    }
}

/// An admin's push from `device`.
pub fn admin(device: Uuid) -> PushContext {
    PushContext {
        device,
        user: Uuid::nil(),
        view: ScopeView::new(Role::Admin, vec![], vec![]),
        now_ms: crate::clock::now_ms(),
    }
}

/// A record of `entity` made with `fields` (no id), as a phone creates one.
pub fn create(
    clock: &mut HlcClock,
    device: Uuid,
    entity: EntityKind,
    id: Uuid,
    fields: serde_json::Value,
) -> Op {
    Op {
        id: Uuid::now_v7(),
        stamp: Stamp::new(clock.tick(crate::clock::now_ms()).unwrap(), device),
        entity,
        entity_id: id,
        body: OpBody::Set {
            fields: FieldWrite::first_writes(fields.as_object().expect("an object")),
        },
    }
}

/// One field of a record set, by a writer that saw the value written at `base`.
pub fn set(
    clock: &mut HlcClock,
    device: Uuid,
    entity: EntityKind,
    id: Uuid,
    field: &str,
    value: serde_json::Value,
    base: Stamp,
) -> Op {
    Op {
        id: Uuid::now_v7(),
        stamp: Stamp::new(clock.tick(crate::clock::now_ms()).unwrap(), device),
        entity,
        entity_id: id,
        body: OpBody::Set {
            fields: [(
                field.to_string(),
                FieldWrite {
                    value,
                    base: Some(base),
                },
            )]
            .into(),
        },
    }
}
