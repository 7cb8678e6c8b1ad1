//! Changes the server refused (`docs/conflicts.md`, "Refused changes").
//!
//! A refused change is not a conflict: nobody else's value won, the server said no (the user's
//! role or area does not allow it, a value is not valid, the change is not this phone's). When
//! the push is answered, the phone puts the record back to the server's state
//! (`sync::engine::revert_to_server`), so what it shows is what the command centre sees, and
//! keeps the refused change here, with the reason in words for the user. The user then
//! [discards](Gridwork::discard_refused) it or [re-does](Gridwork::redo_refused) it as a new
//! change, which passes the same local checks as any change (and is refused at once, with
//! [`Error::NotAllowed`], when the rule that refused it still holds).
//!
//! A change refused as stamped too far ahead (`clock_ahead`) never waits here: the push step
//! stamps it again and resends it (ADR 0011).

use std::collections::BTreeMap;

use gridwork_domain::ids::Id;
use gridwork_domain::sync::refusal::refusal_words;
use gridwork_i18n::Lang;

use crate::new_id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{
    Area, Building, Case, Entity, Household, Patrol, PatrolVisit, Registration, Resident, Station,
};
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::workflow::{self, CaseEvent};

use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, live_state};
use crate::store::{outbox, records};

/// A change of this device's the server refused, kept until the user discards or re-does it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefusedChange {
    /// The refused operation's id: what [`Gridwork::discard_refused`] and
    /// [`Gridwork::redo_refused`] take.
    pub op_id: Id,
    /// The kind of record it changed.
    pub kind: EntityKind,
    /// The record it changed.
    pub record_id: Id,
    /// What the change was, without its values: `edit household: unit, phone`,
    /// `case step: fix (整改)`, `delete household`. A person is shown
    /// [`RefusedChange::change_words`] in their language.
    pub change: String,
    /// The same as parts (the fields' names, the step's), for the words in a language.
    #[serde(skip)]
    pub parts: ChangeParts,
    /// The server's code (`forbidden`, `invalid`, `malformed`, `wrong_device`).
    pub code: String,
    /// Why, in English words for the user (the server's reason, which never repeats a value,
    /// after the code's words). A person is shown [`RefusedChange::words`] in their language.
    pub reason: String,
    /// The server's own reason as it came (English; never a value): with `code`, what the
    /// words in another language are made from.
    pub message: String,
    /// When the change was made (ms since the epoch, corrected device time).
    pub made_at_ms: u64,
}

/// What a refused change was, by stable names: the fields it wrote, a delete, or a case step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeParts {
    Edit { fields: Vec<String> },
    Delete,
    Step { step: &'static str },
}

impl RefusedChange {
    /// Why, in `lang`'s words (`refusal-` and the code; a rule's reason in words).
    pub fn words(&self, lang: Lang) -> String {
        refusal_words(&self.code, &self.message, lang)
    }

    /// What the change was, in `lang`'s words (`refused-change-…`): the record's kind
    /// (`record-…`), the fields (`field-KIND-NAME`, a photo's field as the photo; a field the
    /// catalogue has no words for by its name) or the step (`step-…`). Never a value.
    pub fn change_words(&self, lang: Lang) -> String {
        let kind = self.kind.as_str();
        let record = lang
            .get(&format!("record-{kind}"))
            .unwrap_or_else(|| kind.to_string());
        match &self.parts {
            ChangeParts::Edit { fields } => {
                let mut names: Vec<String> = vec![];
                for field in fields {
                    let words = if field.starts_with("photo_") {
                        lang.t("field-photo")
                    } else {
                        lang.get(&format!("field-{kind}-{field}"))
                            .unwrap_or_else(|| field.clone())
                    };
                    if !names.contains(&words) {
                        names.push(words);
                    }
                }
                let separator = match lang {
                    Lang::Zh => "、",
                    Lang::En => ", ",
                };
                lang.tr(
                    "refused-change-edit",
                    &[("kind", &record), ("fields", &names.join(separator))],
                )
            }
            ChangeParts::Delete => lang.tr("refused-change-delete", &[("kind", &record)]),
            ChangeParts::Step { step } => {
                let words = lang
                    .get(&format!("step-{step}"))
                    .unwrap_or_else(|| step.to_string());
                lang.tr("refused-change-step", &[("step", &words)])
            }
        }
    }
}

impl Gridwork {
    /// The changes the server refused, oldest first. The records they were about already show
    /// the server's values again.
    pub fn refused_changes(&self) -> Result<Vec<RefusedChange>> {
        self.query(|conn| {
            let mut out = Vec::new();
            for entry in outbox::rejected(conn)? {
                let stored = entry.rejected.as_deref().unwrap_or_default();
                let (code, message) = stored.split_once(": ").unwrap_or(("rejected", stored));
                out.push(RefusedChange {
                    op_id: entry.op.id,
                    kind: entry.op.entity,
                    record_id: entry.op.entity_id,
                    change: describe(&entry.op),
                    parts: parts(&entry.op),
                    code: code.to_string(),
                    reason: refusal_words(code, message, Lang::En),
                    message: message.to_string(),
                    made_at_ms: outbox::created_ms(conn, entry.seq)?,
                });
            }
            Ok(out)
        })
    }

    /// Drops a refused change for good (the record keeps the server's values).
    pub fn discard_refused(&self, op_id: Id) -> Result<()> {
        self.read(|conn| {
            let entry = refused_entry(conn, op_id)?;
            outbox::remove(conn, entry.seq)
        })
    }

    /// Makes a refused change again as a new change (a new id and stamp, based on the record as
    /// it is now), and drops the refused one, in one transaction. The new change passes every
    /// check a change made now passes: the user's role and scope ([`Error::NotAllowed`]), the
    /// values ([`Error::Invalid`]), the case's lifecycle ([`Error::Transition`]); refused, it
    /// leaves the refused change where it is. Every field the change wrote is written again,
    /// even one the record holds already (a server that did not send the record back leaves
    /// the refused value in place). Returns the new operation's id.
    pub fn redo_refused(&self, op_id: Id) -> Result<Id> {
        let actor = self.user_id()?;
        self.commit_local(|tx, stamp| {
            let entry = refused_entry(tx, op_id)?;
            let old = entry.op;
            let body = match old.body {
                OpBody::Set { fields } => {
                    let held = records::load(tx, old.entity_id)?
                        .filter(|s| s.kind == old.entity && !s.is_deleted());
                    let mut state = held
                        .clone()
                        .unwrap_or_else(|| RecordState::new(old.entity, old.entity_id));
                    let mut writes = BTreeMap::new();
                    for (name, write) in fields {
                        let base = held.as_ref().and_then(|s| records::field_stamp(s, &name));
                        state.fields.insert(name.clone(), write.value.clone());
                        writes.insert(
                            name,
                            FieldWrite {
                                value: write.value,
                                base,
                            },
                        );
                    }
                    check_state(&state)?;
                    // The tenant ledger, as a change made now: a unit taken meanwhile, a tenant
                    // checked in elsewhere, is refused here.
                    let written: Vec<&str> = writes.keys().map(String::as_str).collect();
                    let mut record = state.fields.clone();
                    record.insert(
                        "id".into(),
                        serde_json::Value::String(old.entity_id.to_string()),
                    );
                    crate::workflows::registrations::check_ledger(
                        tx,
                        old.entity,
                        &record,
                        held.as_ref().map(|_| written.as_slice()),
                    )?;
                    OpBody::Set { fields: writes }
                }
                OpBody::Delete => {
                    live_state(tx, old.entity, old.entity_id)?;
                    OpBody::Delete
                }
                OpBody::CaseEvent { event } => {
                    let case: Case = live_state(tx, EntityKind::Case, event.case_id)?.decode()?;
                    let fold =
                        records::case_fold(tx, event.case_id)?.ok_or_else(|| Error::NotFound {
                            kind: "case",
                            id: event.case_id.to_string(),
                        })?;
                    workflow::apply(case.kind, &fold.state, &event.action)?;
                    OpBody::CaseEvent {
                        event: CaseEvent {
                            id: new_id(),
                            case_id: event.case_id,
                            stamp,
                            actor,
                            action: event.action,
                        },
                    }
                }
            };
            outbox::remove(tx, entry.seq)?;
            let op = Op {
                id: new_id(),
                stamp,
                entity: old.entity,
                entity_id: old.entity_id,
                body,
            };
            let id = op.id;
            Ok((vec![op], id))
        })
    }
}

fn refused_entry(conn: &rusqlite::Connection, op_id: Id) -> Result<outbox::OutboxEntry> {
    outbox::rejected_one(conn, op_id)?.ok_or_else(|| Error::NotFound {
        kind: "refused change",
        id: op_id.to_string(),
    })
}

/// What an operation changes, by field names and step names only.
fn parts(op: &Op) -> ChangeParts {
    match &op.body {
        OpBody::Set { fields } => ChangeParts::Edit {
            fields: fields.keys().cloned().collect(),
        },
        OpBody::Delete => ChangeParts::Delete,
        OpBody::CaseEvent { event } => ChangeParts::Step {
            step: event.action.name(),
        },
    }
}

fn describe(op: &Op) -> String {
    let kind = op.entity.as_str();
    match &op.body {
        OpBody::Set { fields } => {
            let names: Vec<&str> = fields.keys().map(String::as_str).collect();
            format!("edit {kind}: {}", names.join(", "))
        }
        OpBody::Delete => format!("delete {kind}"),
        OpBody::CaseEvent { event } => format!(
            "case step: {} ({})",
            event.action.name(),
            event.action.label_zh()
        ),
    }
}

/// Decodes a record as its model type and checks it as a change made now would be.
fn check_state(state: &RecordState) -> Result<()> {
    fn check<T: Entity>(state: &RecordState) -> Result<()> {
        let mut value: T = state.decode()?;
        value.normalize()?;
        Ok(())
    }
    match state.kind {
        EntityKind::Area => check::<Area>(state),
        EntityKind::Building => check::<Building>(state),
        EntityKind::Station => check::<Station>(state),
        EntityKind::Household => check::<Household>(state),
        EntityKind::Resident => check::<Resident>(state),
        EntityKind::Registration => check::<Registration>(state),
        EntityKind::Case => check::<Case>(state),
        EntityKind::Patrol => check::<Patrol>(state),
        EntityKind::PatrolVisit => check::<PatrolVisit>(state),
    }
}
