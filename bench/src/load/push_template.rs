//! A push encoded once and sent many times: a batch of field updates by one device, whose
//! operation ids and stamps are overwritten in place before each send (both have a fixed
//! width: a hyphenated UUID is 36 characters, a stamp of this century 18 digits), so the load
//! generator never encodes JSON while the clock runs.

use std::collections::BTreeMap;
use std::io::Write;

use gridwork_core::new_id;
use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::sync::PushRequest;
use hyper::body::Bytes;
use serde_json::Value;

use crate::dataset::now_ms;

/// Where one operation's id and stamp sit in the encoded body.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id_at: usize,
    hlc_at: usize,
    hlc_len: usize,
}

/// A batch of updates of one field on some records, by one device.
#[derive(Debug, Clone)]
pub struct PushTemplate {
    body: Vec<u8>,
    slots: Vec<Slot>,
    /// The last stamp handed out: each send's stamps follow it, as a phone's clock would.
    last: Hlc,
}

impl PushTemplate {
    /// Updates of `field` to `value` on each of `records` (of kind `entity`), stamped by
    /// `device`.
    pub fn new(
        device: DeviceId,
        entity: EntityKind,
        records: &[Id],
        field: &str,
        value: Value,
    ) -> PushTemplate {
        let start = Hlc::new(now_ms(), 0);
        let ops: Vec<Op> = records
            .iter()
            .map(|record| Op {
                id: new_id(),
                stamp: Stamp::new(start, device),
                entity,
                entity_id: *record,
                body: OpBody::Set {
                    fields: BTreeMap::from([(
                        field.to_string(),
                        FieldWrite {
                            value: value.clone(),
                            base: None,
                        },
                    )]),
                },
            })
            .collect();
        let body = serde_json::to_vec(&PushRequest { ops: ops.clone() }).expect("encodes");
        let text = String::from_utf8(body.clone()).expect("JSON is UTF-8");
        let digits = start.as_u64().to_string();
        let mut slots = Vec::with_capacity(ops.len());
        let mut from = 0;
        for op in &ops {
            let id_at = text
                .find(&op.id.to_string())
                .expect("the op id is in the body");
            let hlc_key = format!("\"hlc\":{digits}");
            let hlc_at = from
                + text[from..]
                    .find(&hlc_key)
                    .expect("each op's stamp follows the previous one")
                + "\"hlc\":".len();
            from = hlc_at;
            slots.push(Slot {
                id_at,
                hlc_at,
                hlc_len: digits.len(),
            });
        }
        PushTemplate {
            body,
            slots,
            last: start,
        }
    }

    /// The body to send next: new operation ids, stamps after every earlier one.
    pub fn next(&mut self) -> Bytes {
        for i in 0..self.slots.len() {
            let slot = self.slots[i];
            let now = Hlc::new(now_ms(), 0);
            let hlc = if now > self.last {
                now
            } else {
                Hlc::from_u64(self.last.as_u64() + 1)
            };
            self.last = hlc;
            new_id()
                .hyphenated()
                .encode_lower(&mut self.body[slot.id_at..slot.id_at + 36]);
            let mut digits = &mut self.body[slot.hlc_at..slot.hlc_at + slot.hlc_len];
            let before = digits.len();
            write!(digits, "{}", hlc.as_u64()).expect("fits");
            assert!(
                digits.is_empty() && before == slot.hlc_len,
                "a stamp changed width"
            );
        }
        Bytes::copy_from_slice(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use gridwork_domain::sync::PushRequest;
    use serde_json::json;

    use super::*;

    #[test]
    fn each_send_carries_new_ids_and_later_stamps_for_the_same_updates() {
        let device = new_id();
        let households = [new_id(), new_id(), new_id()];
        let mut t = PushTemplate::new(
            device,
            EntityKind::Household,
            &households,
            "phone",
            json!("13712345678"),
        );
        let first: PushRequest = serde_json::from_slice(&t.next()).unwrap();
        let second: PushRequest = serde_json::from_slice(&t.next()).unwrap();
        assert_eq!(first.ops.len(), 3);
        let mut seen = std::collections::HashSet::new();
        let mut last = Hlc::ZERO;
        for op in first.ops.iter().chain(&second.ops) {
            assert!(seen.insert(op.id), "an op id repeats");
            assert!(op.stamp.hlc > last, "stamps go forward");
            last = op.stamp.hlc;
            assert_eq!(op.stamp.device, device);
            assert_eq!(op.entity, EntityKind::Household);
        }
        let targets: Vec<Id> = second.ops.iter().map(|o| o.entity_id).collect();
        assert_eq!(targets, households);
        let OpBody::Set { fields } = &second.ops[2].body else {
            panic!("a set")
        };
        assert_eq!(fields["phone"].value, json!("13712345678"));
    }
}
