//! The operation that creates a record, built inside a caller's transaction.
//!
//! [`Gridwork::create`](crate::Gridwork::create) is one record per transaction. Some field
//! actions write more than one thing at once (an alarm is opened and dispatched; a tenant is
//! checked in only if not already in the room), so the workflows build the creating operation
//! themselves inside [`Gridwork::commit_local`](crate::Gridwork) and check the references they
//! need by loading the records they point at.

use std::collections::BTreeMap;

use gridwork_domain::hlc::Stamp;
use gridwork_domain::ids::{Id, new_id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::Entity;
use gridwork_domain::op::{EntityKind, FieldWrite, Op};
use gridwork_domain::validate::ValidationError;
use rusqlite::Connection;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::gridwork::{live_state, set_op};

/// The live record of `kind` that the new record's `field` points at, or a refusal naming the
/// field, worded as [`Gridwork::create`](crate::Gridwork::create) words it.
pub(crate) fn referenced(
    conn: &Connection,
    field: &str,
    kind: EntityKind,
    id: Id,
) -> Result<RecordState> {
    match live_state(conn, kind, id) {
        Err(Error::NotFound { .. }) => Err(ValidationError::new(
            field,
            format!("no {} with this id is on this device", kind.as_str()),
        )
        .into()),
        other => other,
    }
}

/// The operation creating `value` (its nil id replaced by a fresh one, its fields checked and
/// normalised first): every field written with no base, as a creation is.
pub(crate) fn create_op<T: Entity>(stamp: Stamp, value: &mut T) -> Result<Op> {
    if value.id().is_nil() {
        value.set_id(new_id());
    }
    value.normalize()?;
    let Value::Object(obj) = serde_json::to_value(&*value)? else {
        return Err(Error::Corrupt(format!(
            "{} does not serialize to an object",
            T::KIND.as_str()
        )));
    };
    let fields: BTreeMap<String, FieldWrite> = obj
        .into_iter()
        .filter(|(k, _)| k != "id")
        .map(|(k, v)| {
            (
                k,
                FieldWrite {
                    value: v,
                    base: None,
                },
            )
        })
        .collect();
    Ok(set_op(stamp, T::KIND, value.id(), fields))
}
