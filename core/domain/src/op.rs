//! Operations: the unit of change that is written to the outbox, pushed, stored by the server,
//! pulled by other devices and merged.
//!
//! A local mutation makes one or more operations; applying an operation is the same code on the
//! device that made it, on the server and on every other device ([`crate::merge`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Stamp;
use crate::ids::Id;
use crate::workflow::CaseEvent;

/// The kinds of record that sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Area,
    Building,
    Station,
    Household,
    Resident,
    Registration,
    Case,
    Patrol,
    PatrolVisit,
}

impl EntityKind {
    pub const ALL: [EntityKind; 9] = [
        EntityKind::Area,
        EntityKind::Building,
        EntityKind::Station,
        EntityKind::Household,
        EntityKind::Resident,
        EntityKind::Registration,
        EntityKind::Case,
        EntityKind::Patrol,
        EntityKind::PatrolVisit,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Area => "area",
            EntityKind::Building => "building",
            EntityKind::Station => "station",
            EntityKind::Household => "household",
            EntityKind::Resident => "resident",
            EntityKind::Registration => "registration",
            EntityKind::Case => "case",
            EntityKind::Patrol => "patrol",
            EntityKind::PatrolVisit => "patrol_visit",
        }
    }

    /// Parses [`EntityKind::as_str`].
    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One field written by a [`OpBody::Set`]: the new value and the stamp of the value the writer
/// saw when it wrote (`None` when the field was unset). The base tells a receiving replica
/// whether the writer knew its current value; a write that did not is concurrent with it, and
/// the value it displaces is kept as a conflict rather than silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldWrite {
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Stamp>,
}

impl FieldWrite {
    /// The writes of a record's fields made without reading it first (no base): a record
    /// created, or fields set by a tool that loads data.
    ///
    /// ```
    /// use gridwork_domain::op::FieldWrite;
    /// use serde_json::json;
    ///
    /// let writes = FieldWrite::first_writes(json!({ "unit": "2-301" }).as_object().unwrap());
    /// assert_eq!(writes["unit"].value, "2-301");
    /// assert_eq!(writes["unit"].base, None);
    /// ```
    pub fn first_writes(
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> BTreeMap<String, FieldWrite> {
        fields
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    FieldWrite {
                        value: value.clone(),
                        base: None,
                    },
                )
            })
            .collect()
    }
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OpBody {
    /// Sets fields of a record (creating it when it does not exist). Creation sets every field.
    Set {
        fields: BTreeMap<String, FieldWrite>,
    },
    /// Deletes the record: a tombstone with the operation's stamp. Remove wins: later sets are
    /// still merged into field stamps but the record stays deleted.
    Delete,
    /// Appends an event to a case's history (`entity` is [`EntityKind::Case`]).
    CaseEvent { event: CaseEvent },
}

/// A stamped change to one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Operation id (UUID v7): applying the same id twice changes nothing.
    pub id: Id,
    pub stamp: Stamp,
    pub entity: EntityKind,
    pub entity_id: Id,
    pub body: OpBody,
}

impl Op {
    /// A short name for logs and reports (`set`, `delete`, `case_event`): never the values.
    pub fn body_name(&self) -> &'static str {
        match self.body {
            OpBody::Set { .. } => "set",
            OpBody::Delete => "delete",
            OpBody::CaseEvent { .. } => "case_event",
        }
    }
}
