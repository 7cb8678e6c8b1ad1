//! Merge rules for plain records: last writer wins per field by [`Stamp`] (HLC, then device id),
//! remove-wins tombstones, and the detection of concurrent writes whose loser must be kept.
//!
//! The same function runs on the device that made an operation, on the server and on every
//! device that pulls it, which is what makes all replicas converge. Case events are not merged
//! here: they are a set (union by event id) folded by [`crate::workflow`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hlc::Stamp;
use crate::ids::Id;
use crate::op::{EntityKind, Op, OpBody};

/// The merged state of one record: each field's value and the stamp that wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub kind: EntityKind,
    pub id: Id,
    pub fields: Map<String, Value>,
    pub stamps: BTreeMap<String, Stamp>,
    pub tombstone: Option<Stamp>,
}

/// A value displaced by a concurrent write: the writer of the winner had not seen it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Displaced {
    pub field: String,
    pub lost_value: Value,
    pub lost_stamp: Stamp,
    pub won_value: Value,
    pub won_stamp: Stamp,
}

/// What merging one operation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeOutcome {
    /// Fields whose value changed.
    pub applied: Vec<String>,
    /// Fields the operation wrote but an equal or newer stamp already held.
    pub stale: Vec<String>,
    /// Values that lost to a concurrent write (whichever side they came from).
    pub displaced: Vec<Displaced>,
    /// The operation set or moved the tombstone.
    pub deleted: bool,
}

impl MergeOutcome {
    /// Whether the record changed at all.
    pub fn changed(&self) -> bool {
        !self.applied.is_empty() || self.deleted
    }
}

/// Whether two writes of one field were concurrent: the newer one's writer had not seen the
/// older one. One device's writes are never concurrent with each other (it always saw its own
/// earlier write, even when its operation comes back to it late, echoed by the server).
fn concurrent(newer_base: Option<Stamp>, older: Stamp, newer: Stamp) -> bool {
    let (older, newer) = if older <= newer {
        (older, newer)
    } else {
        (newer, older)
    };
    older != newer && older.device != newer.device && newer_base.is_none_or(|b| b < older)
}

impl RecordState {
    /// An empty record, before any operation.
    pub fn new(kind: EntityKind, id: Id) -> RecordState {
        RecordState {
            kind,
            id,
            fields: Map::new(),
            stamps: BTreeMap::new(),
            tombstone: None,
        }
    }

    /// Whether a delete has been merged.
    pub fn is_deleted(&self) -> bool {
        self.tombstone.is_some()
    }

    /// The newest stamp anywhere in the record.
    pub fn latest_stamp(&self) -> Option<Stamp> {
        self.stamps.values().copied().chain(self.tombstone).max()
    }

    /// Merges `op` (which must target this record) and says what changed. Idempotent, and
    /// commutative with every other operation: any order of any set of operations gives the same
    /// state.
    pub fn merge(&mut self, op: &Op) -> MergeOutcome {
        debug_assert_eq!(op.entity_id, self.id);
        let mut out = MergeOutcome::default();
        match &op.body {
            OpBody::Set { fields } => {
                for (name, write) in fields {
                    let incoming = op.stamp;
                    match self.stamps.get(name).copied() {
                        Some(current) if current >= incoming => {
                            out.stale.push(name.clone());
                            // The incoming write lost. It was concurrent if its writer had not
                            // seen the value that beats it.
                            if concurrent(write.base, current, incoming) {
                                out.displaced.push(Displaced {
                                    field: name.clone(),
                                    lost_value: write.value.clone(),
                                    lost_stamp: incoming,
                                    won_value: self
                                        .fields
                                        .get(name)
                                        .cloned()
                                        .unwrap_or(Value::Null),
                                    won_stamp: current,
                                });
                            }
                        }
                        current => {
                            if let Some(current) = current
                                && concurrent(write.base, current, incoming)
                            {
                                let lost = self.fields.get(name).cloned().unwrap_or(Value::Null);
                                if lost != write.value {
                                    out.displaced.push(Displaced {
                                        field: name.clone(),
                                        lost_value: lost,
                                        lost_stamp: current,
                                        won_value: write.value.clone(),
                                        won_stamp: incoming,
                                    });
                                }
                            }
                            self.fields.insert(name.clone(), write.value.clone());
                            self.stamps.insert(name.clone(), incoming);
                            out.applied.push(name.clone());
                        }
                    }
                }
            }
            OpBody::Delete => {
                if self.tombstone.is_none_or(|t| t < op.stamp) {
                    out.deleted = self.tombstone.is_none();
                    self.tombstone = Some(op.stamp);
                }
            }
            OpBody::CaseEvent { .. } => {}
        }
        out
    }

    /// Merges another replica's state of the same record (a snapshot page): per field the newer
    /// stamp wins, the newer tombstone stays. Commutative and idempotent like [`Self::merge`].
    pub fn absorb(&mut self, other: &RecordState) -> bool {
        let mut changed = false;
        for (name, stamp) in &other.stamps {
            if self.stamps.get(name).is_none_or(|s| s < stamp) {
                let value = other.fields.get(name).cloned().unwrap_or(Value::Null);
                self.fields.insert(name.clone(), value);
                self.stamps.insert(name.clone(), *stamp);
                changed = true;
            }
        }
        if let Some(t) = other.tombstone
            && self.tombstone.is_none_or(|s| s < t)
        {
            self.tombstone = Some(t);
            changed = true;
        }
        changed
    }

    /// The fields as a JSON object with `id` added: the shape the model structs deserialize.
    pub fn to_object(&self) -> Map<String, Value> {
        let mut obj = self.fields.clone();
        obj.insert("id".into(), Value::String(self.id.to_string()));
        obj
    }

    /// Decodes the record into its model type (fails while a record is only partly known).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.to_object()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::op::FieldWrite;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn dev(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn set(op: u8, ms: u64, device: u8, field: &str, value: &str, base: Option<Stamp>) -> Op {
        let mut fields = BTreeMap::new();
        fields.insert(
            field.to_string(),
            FieldWrite {
                value: Value::from(value),
                base,
            },
        );
        Op {
            id: Uuid::from_bytes([op; 16]),
            stamp: Stamp::new(Hlc::new(ms, 0), dev(device)),
            entity: EntityKind::Household,
            entity_id: Uuid::nil(),
            body: OpBody::Set { fields },
        }
    }

    fn household() -> RecordState {
        RecordState::new(EntityKind::Household, Uuid::nil())
    }

    #[test]
    fn two_phones_edit_the_same_household_phone_offline_and_the_later_one_wins_everywhere() {
        let created = set(1, 100, 1, "phone", "13800000000", None);
        let a = set(2, 200, 1, "phone", "13811111111", Some(created.stamp));
        let b = set(3, 300, 2, "phone", "13922222222", Some(created.stamp));

        let mut on_a = household();
        on_a.merge(&created);
        on_a.merge(&a);
        let out = on_a.merge(&b);
        assert_eq!(on_a.fields["phone"], "13922222222");
        assert_eq!(out.displaced.len(), 1, "A's value is displaced and kept");
        assert_eq!(out.displaced[0].lost_value, "13811111111");
        assert_eq!(out.displaced[0].lost_stamp.device, dev(1));

        let mut on_b = household();
        on_b.merge(&created);
        on_b.merge(&b);
        let out = on_b.merge(&a);
        assert_eq!(on_b, on_a);
        assert_eq!(out.stale, vec!["phone".to_string()]);
        assert_eq!(
            out.displaced[0].lost_value, "13811111111",
            "both sides name the same loser"
        );
    }

    #[test]
    fn a_devices_own_older_write_echoed_back_late_is_not_a_conflict() {
        let created = set(1, 100, 1, "ended_at_ms", "null", None);
        let ended = set(
            2,
            200,
            1,
            "ended_at_ms",
            "1795400000000",
            Some(created.stamp),
        );
        let mut r = household();
        r.merge(&created);
        r.merge(&ended);
        let echo = r.merge(&created);
        assert!(echo.displaced.is_empty(), "{echo:?}");
        assert_eq!(r.fields["ended_at_ms"], "1795400000000");
        // Nor when its later write reaches a replica first and carries no base.
        let blind = set(3, 300, 1, "ended_at_ms", "x", None);
        assert!(r.merge(&blind).displaced.is_empty());
    }

    #[test]
    fn an_edit_made_after_seeing_the_value_is_not_a_conflict() {
        let first = set(1, 100, 1, "phone", "13800000000", None);
        let second = set(2, 200, 2, "phone", "13811111111", Some(first.stamp));
        let mut r = household();
        r.merge(&first);
        let out = r.merge(&second);
        assert!(out.displaced.is_empty());
        assert_eq!(out.applied, vec!["phone".to_string()]);
    }

    #[test]
    fn the_device_id_breaks_a_tie_between_equal_clocks() {
        let a = set(1, 100, 1, "unit", "1-101", None);
        let b = set(2, 100, 2, "unit", "1-102", None);
        let mut x = household();
        x.merge(&a);
        x.merge(&b);
        let mut y = household();
        y.merge(&b);
        y.merge(&a);
        assert_eq!(x, y);
        assert_eq!(x.fields["unit"], "1-102");
    }

    #[test]
    fn applying_an_operation_twice_changes_nothing() {
        let op = set(1, 100, 1, "unit", "1-101", None);
        let mut r = household();
        assert!(r.merge(&op).changed());
        let before = r.clone();
        let again = r.merge(&op);
        assert!(!again.changed());
        assert!(again.displaced.is_empty());
        assert_eq!(r, before);
    }

    #[test]
    fn a_delete_wins_over_an_older_and_a_newer_set() {
        let mut r = household();
        let del = Op {
            id: Uuid::from_bytes([9; 16]),
            stamp: Stamp::new(Hlc::new(150, 0), dev(3)),
            entity: EntityKind::Household,
            entity_id: Uuid::nil(),
            body: OpBody::Delete,
        };
        r.merge(&set(1, 100, 1, "unit", "1-101", None));
        assert!(r.merge(&del).deleted);
        r.merge(&set(2, 200, 1, "unit", "1-102", None));
        assert!(r.is_deleted());
    }

    proptest! {
        /// Replicas exchange values as JSON text; a float that does not survive the trip
        /// exactly (serde_json without `float_roundtrip`) makes replicas diverge by one ULP.
        #[test]
        fn a_position_survives_the_wire_exactly(lat in -90.0f64..90.0, lon in -180.0f64..180.0) {
            let v = serde_json::json!({ "lat": lat, "lon": lon });
            let back: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            prop_assert_eq!(back, v);
        }
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        (
            0u8..40,
            0u64..20,
            1u8..4,
            prop::sample::select(vec!["unit", "phone", "kind"]),
            0u8..5,
        )
            .prop_map(|(id, ms, device, field, v)| {
                if v == 0 && ms % 7 == 0 {
                    Op {
                        id: Uuid::from_bytes([id; 16]),
                        stamp: Stamp::new(Hlc::new(ms, 0), dev(device)),
                        entity: EntityKind::Household,
                        entity_id: Uuid::nil(),
                        body: OpBody::Delete,
                    }
                } else {
                    set(id, ms, device, field, &format!("v{v}"), None)
                }
            })
    }

    proptest! {
        #[test]
        fn any_order_with_duplicates_converges(ops in prop::collection::vec(arb_op(), 1..30), seed in any::<u64>()) {
            // Stamps are unique per (ms, device) in real life; make them so here.
            let mut seen = std::collections::HashSet::new();
            let ops: Vec<Op> = ops.into_iter().filter(|o| seen.insert(o.stamp)).collect();
            let mut forward = household();
            for op in &ops { forward.merge(op); }
            let mut shuffled: Vec<Op> = ops.iter().chain(ops.iter().take(3)).cloned().collect();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut other = household();
            for op in &shuffled { other.merge(op); }
            prop_assert_eq!(forward, other);
        }
    }
}
