//! References checked inside a caller's transaction.
//!
//! Some field actions write more than one thing at once (an alarm is opened and dispatched; a
//! tenant is checked in only if not already in the room), so the workflows build the creating
//! operation themselves ([`crate::gridwork::create_op`]) inside `Gridwork::commit_local` and
//! check the references they need by loading the records they point at.

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::validate::ValidationError;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::gridwork::live_state;

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
