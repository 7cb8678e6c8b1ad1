//! Personal fields a role must not hold, removed from records and operations before they leave
//! the server. A fire crew needs to know who lives in a burning building (and their phones, to
//! reach them) but not their resident ID numbers.

use crate::merge::RecordState;
use crate::op::{EntityKind, Op, OpBody};
use crate::sync::Role;

/// The fields of `kind` that `role` must not receive.
pub fn hidden_fields(role: Role, kind: EntityKind) -> &'static [&'static str] {
    match (role, kind) {
        (Role::FireCrew, EntityKind::Resident) => &["id_number"],
        _ => &[],
    }
}

/// Removes the hidden fields (and their stamps) from a record; says whether it removed any.
pub fn redact_record(role: Role, state: &mut RecordState) -> bool {
    let mut removed = false;
    for field in hidden_fields(role, state.kind) {
        removed |= state.fields.remove(*field).is_some();
        state.stamps.remove(*field);
    }
    removed
}

/// Removes the hidden fields from a `set` operation (other operations carry no fields).
pub fn redact_op(role: Role, op: &mut Op) -> bool {
    let OpBody::Set { fields } = &mut op.body else {
        return false;
    };
    let mut removed = false;
    for field in hidden_fields(role, op.entity) {
        removed |= fields.remove(*field).is_some();
    }
    removed
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::hlc::{Hlc, Stamp};
    use crate::op::FieldWrite;

    fn resident_op() -> Op {
        let mut fields = BTreeMap::new();
        for (k, v) in [
            ("name", json!("王秀英")),
            ("id_number", json!("11010519491231002X")),
        ] {
            fields.insert(
                k.to_string(),
                FieldWrite {
                    value: v,
                    base: None,
                },
            );
        }
        Op {
            id: crate::ids::test_id(),
            stamp: Stamp::new(Hlc::new(1_795_000_000_000, 0), crate::ids::test_id()),
            entity: EntityKind::Resident,
            entity_id: crate::ids::test_id(),
            body: OpBody::Set { fields },
        }
    }

    #[test]
    fn a_crew_gets_residents_without_id_numbers_and_a_gridworker_with_them() {
        let op = resident_op();
        let mut crews = op.clone();
        assert!(redact_op(Role::FireCrew, &mut crews));
        let OpBody::Set { fields } = &crews.body else {
            unreachable!()
        };
        assert!(fields.contains_key("name") && !fields.contains_key("id_number"));
        let mut workers = op.clone();
        assert!(!redact_op(Role::Gridworker, &mut workers));
        assert_eq!(workers, op);

        let mut state = RecordState::new(EntityKind::Resident, op.entity_id);
        state.merge(&op);
        assert!(redact_record(Role::FireCrew, &mut state));
        assert!(!state.fields.contains_key("id_number"));
        assert!(!state.stamps.contains_key("id_number"));
    }
}
