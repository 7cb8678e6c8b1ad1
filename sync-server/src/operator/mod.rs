//! The server's operator: an admin at the server's own command line (`gridwork-server import`,
//! `gridwork-server area ...`) who changes records. Its changes go through the very path a
//! phone's do: operations stamped by a device of its own, pushed through [`Storage::push`] and
//! decided by the push planner ([`crate::rules::plan`]), so every record is filed under its scope
//! buckets, what hangs from a moved building moves with it, and phones receive it all by sync
//! (ARCHITECTURE.md, ADR 0019).
//!
//! [`Directory`] is what the operator looks records up by: area codes, building address codes,
//! station names, a building's units, residents' ID numbers.

use std::collections::BTreeMap;

use gridwork_domain::hlc::{Hlc, HlcClock, Stamp};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::Entity;
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::{PushResult, Role};
use serde_json::{Map, Value};

use crate::clock;
use crate::rules::PushContext;
use crate::storage::{Storage, StorageError};

pub mod directory;

pub use directory::Directory;

/// The most operations pushed in one transaction: big enough that a city's import is not
/// dominated by commits, small enough that a push holds its locks briefly.
pub const BATCH: usize = 500;

/// Writes records as the server's operator (an admin whose scope is everything).
#[derive(Debug)]
pub struct Operator {
    device: DeviceId,
    user: Id,
    clock: HlcClock,
}

impl Default for Operator {
    fn default() -> Self {
        Operator::new()
    }
}

impl Operator {
    /// An operator with a device id of its own for this session (its operations are told apart
    /// from every phone's by it).
    pub fn new() -> Operator {
        Operator {
            device: uuid::Uuid::now_v7(),
            user: uuid::Uuid::nil(),
            clock: HlcClock::new(Hlc::ZERO, 0),
        }
    }

    /// The device id the operator stamps its operations with.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    fn stamp(&mut self, after: Option<&RecordState>) -> Stamp {
        let now = clock::now_ms();
        // A record a phone stamped a little ahead of the server's clock: the operator's change
        // still comes after it, as the admin who saw it meant.
        if let Some(latest) = after.and_then(RecordState::latest_stamp) {
            let _ = self.clock.observe(latest.hlc, now);
        }
        let hlc = self.clock.tick(now).unwrap_or_else(|_| Hlc::new(now, 0));
        Stamp::new(hlc, self.device)
    }

    /// The operation creating `record` (a fresh id when its id is nil).
    pub fn create<T: Entity>(&mut self, record: &T) -> Result<Op, serde_json::Error> {
        let Value::Object(mut fields) = serde_json::to_value(record)? else {
            unreachable!("records serialize as objects")
        };
        // The id is the operation's `entity_id`, not a field (the record schema refuses it).
        fields.remove("id");
        let stamp = self.stamp(None);
        Ok(Op {
            id: uuid::Uuid::now_v7(),
            stamp,
            entity: T::KIND,
            entity_id: record.id(),
            body: OpBody::Set {
                fields: FieldWrite::first_writes(&fields),
            },
        })
    }

    /// The operation bringing the stored `current` to `record`'s fields: only the fields that
    /// differ, each with the stamp it overwrites. `None` when nothing differs.
    pub fn update<T: Entity>(
        &mut self,
        current: &RecordState,
        record: &T,
    ) -> Result<Option<Op>, serde_json::Error> {
        let Value::Object(mut fields) = serde_json::to_value(record)? else {
            unreachable!("records serialize as objects")
        };
        // The id is the operation's `entity_id`, not a field (the record schema refuses it).
        fields.remove("id");
        Ok(self.update_fields(current, &fields))
    }

    /// The operation setting `fields` of the stored `current`, only those that differ.
    pub fn update_fields(
        &mut self,
        current: &RecordState,
        fields: &Map<String, Value>,
    ) -> Option<Op> {
        let changed: BTreeMap<String, FieldWrite> = fields
            .iter()
            .filter(|(name, value)| current.fields.get(*name).unwrap_or(&Value::Null) != *value)
            .map(|(name, value)| {
                (
                    name.clone(),
                    FieldWrite {
                        value: value.clone(),
                        base: current.stamps.get(name).copied(),
                    },
                )
            })
            .collect();
        if changed.is_empty() && !current.is_deleted() {
            return None;
        }
        let stamp = self.stamp(Some(current));
        Some(Op {
            id: uuid::Uuid::now_v7(),
            stamp,
            entity: current.kind,
            entity_id: current.id,
            body: OpBody::Set { fields: changed },
        })
    }

    /// The operation deleting a stored record (remove wins: it stays deleted).
    pub fn delete(&mut self, current: &RecordState) -> Op {
        let stamp = self.stamp(Some(current));
        Op {
            id: uuid::Uuid::now_v7(),
            stamp,
            entity: current.kind,
            entity_id: current.id,
            body: OpBody::Delete,
        }
    }

    /// Pushes `ops` through the storage's push in batches of [`BATCH`], as an admin whose
    /// scope is everything; one answer per operation, in order.
    pub async fn push<S: Storage>(
        &self,
        storage: &S,
        ops: Vec<Op>,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<PushResult>, StorageError> {
        let mut results = Vec::with_capacity(ops.len());
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let batch: Vec<Op> = ops.by_ref().take(BATCH).collect();
            let ctx = PushContext {
                device: self.device,
                user: self.user,
                view: ScopeView::new(Role::Admin, vec![], vec![]),
                now_ms: clock::now_ms(),
            };
            results.extend(storage.push(ctx, batch).await?);
            progress(results.len());
        }
        Ok(results)
    }
}

/// The kinds an operator's [`Directory`] keeps.
pub const DIRECTORY_KINDS: [EntityKind; 5] = [
    EntityKind::Area,
    EntityKind::Building,
    EntityKind::Station,
    EntityKind::Household,
    EntityKind::Resident,
];
