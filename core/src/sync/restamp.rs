//! Recovery from stamps the server refused as too far ahead (`clock_ahead`, ADR 0011).
//!
//! A phone whose wall clock jumped ahead while it was offline stamps its edits with that clock
//! until a sync tells it the real offset. The server refuses those stamps (they would win every
//! conflict), and because an HLC never goes back, every later edit would be stamped just as far
//! ahead and refused too, until real time caught up: months of edits stuck on the phone.
//!
//! The recovery, run by the push step whenever such stamps are found, in ONE transaction:
//! 1. the clock is rebased ([`HlcClock::rebase`](gridwork_domain::hlc::HlcClock::rebase)) to
//!    the highest stamp known to be legitimate: corrected time, the highest stamp the server is
//!    known to hold, the highest legitimate stamp left in the outbox;
//! 2. every outbox operation stamped above the server's horizon (refused, or not sent yet) is
//!    replaced, oldest first, by a NEW operation (a fresh id, so no id ever names two different
//!    operations) with the same change and a fresh stamp from the rebased clock; a base that
//!    named a replaced stamp names its replacement;
//! 3. the local state is restamped to match: each field, tombstone or case event that carried an
//!    old stamp carries the new one (values are untouched), and cases are refolded.
//!
//! The user's edits are kept, in their order, and are pushed again in the same sync run.

use std::collections::HashMap;

use crate::new_id;
use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{Op, OpBody};

use crate::error::Result;
use crate::gridwork::Gridwork;
use crate::store::{outbox, records};

impl Gridwork {
    /// Replaces the outbox operations whose stamps the server refuses (see the module doc);
    /// returns how many were replaced. Does nothing (and writes nothing) when there are none.
    pub(crate) fn restamp_stamped_ahead(&self) -> Result<u64> {
        let wall = self.wall_ms();
        let horizon = self.clock().horizon(wall);
        if self
            .query(|c| outbox::stamped_ahead(c, horizon))?
            .is_empty()
        {
            return Ok(0);
        }
        let me = self.device_id();
        self.with_tx(|tx, clock, wall| {
            let horizon = clock.horizon(wall);
            let refused = outbox::stamped_ahead(tx, horizon)?;
            let floor = outbox::highest_stamp_within(tx, horizon)?.unwrap_or(Hlc::ZERO);
            clock.rebase(wall, floor);
            let now = clock.corrected_ms(wall);
            let mut renamed: HashMap<Stamp, Stamp> = HashMap::new();
            for entry in &refused {
                let stamp = Stamp::new(clock.tick(wall)?, me);
                let op = restamped(&entry.op, new_id(), stamp, &renamed);
                restamp_local_state(tx, &entry.op, &op)?;
                outbox::remove(tx, entry.seq)?;
                outbox::append(tx, &op, now)?;
                renamed.insert(entry.op.stamp, stamp);
            }
            Ok(refused.len() as u64)
        })
    }
}

/// The same change as `op`, under a new id and stamp; bases that name a stamp in `renamed`
/// name its replacement.
fn restamped(op: &Op, id: Id, stamp: Stamp, renamed: &HashMap<Stamp, Stamp>) -> Op {
    let rename = |s: Stamp| renamed.get(&s).copied().unwrap_or(s);
    let body = match &op.body {
        OpBody::Set { fields } => OpBody::Set {
            fields: fields
                .iter()
                .map(|(name, write)| {
                    let mut write = write.clone();
                    write.base = write.base.map(rename);
                    (name.clone(), write)
                })
                .collect(),
        },
        OpBody::Delete => OpBody::Delete,
        OpBody::CaseEvent { event } => {
            let mut event = event.clone();
            event.stamp = if event.stamp == op.stamp {
                stamp
            } else {
                rename(event.stamp)
            };
            OpBody::CaseEvent { event }
        }
    };
    Op {
        id,
        stamp,
        entity: op.entity,
        entity_id: op.entity_id,
        body,
    }
}

/// Moves what `old` wrote in the local state to `new`'s stamp.
fn restamp_local_state(tx: &rusqlite::Connection, old: &Op, new: &Op) -> Result<()> {
    match &new.body {
        OpBody::Set { .. } | OpBody::Delete => {
            let Some(mut state) = records::load(tx, old.entity_id)? else {
                return Ok(());
            };
            if replace_stamp(&mut state, old.stamp, new.stamp) {
                records::save(tx, &state)?;
            }
        }
        OpBody::CaseEvent { event } => {
            if records::replace_case_event(tx, event)? {
                records::refold_case(tx, event.case_id)?;
            }
        }
    }
    Ok(())
}

/// Replaces every occurrence of `old` among a record's field stamps and tombstone. A stamp
/// names one operation of one device, so these are exactly what that operation still holds.
fn replace_stamp(state: &mut RecordState, old: Stamp, new: Stamp) -> bool {
    let mut changed = false;
    for stamp in state.stamps.values_mut().filter(|s| **s == old) {
        *stamp = new;
        changed = true;
    }
    if state.tombstone == Some(old) {
        state.tombstone = Some(new);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwork_domain::op::{EntityKind, FieldWrite};
    use gridwork_domain::workflow::{CaseAction, CaseEvent};
    use serde_json::json;
    use uuid::Uuid;

    fn stamp(ms: u64, device: Uuid) -> Stamp {
        Stamp::new(Hlc::new(ms, 0), device)
    }

    #[test]
    fn a_restamped_set_keeps_its_change_and_follows_a_renamed_base() {
        let me = Uuid::now_v7();
        let (a, b, remote) = (
            stamp(9_000, me),
            stamp(9_001, me),
            stamp(100, Uuid::now_v7()),
        );
        let op = Op {
            id: Uuid::now_v7(),
            stamp: b,
            entity: EntityKind::Household,
            entity_id: Uuid::now_v7(),
            body: OpBody::Set {
                fields: [
                    ("phone", json!("13800000000"), Some(a)),
                    ("unit", json!("2-301"), Some(remote)),
                    ("kind", json!("rental"), None),
                ]
                .into_iter()
                .map(|(k, value, base)| (k.to_string(), FieldWrite { value, base }))
                .collect(),
            },
        };
        let (na, nb) = (stamp(10, me), stamp(11, me));
        let renamed = HashMap::from([(a, na)]);
        let id = Uuid::now_v7();
        let new = restamped(&op, id, nb, &renamed);
        assert_eq!((new.id, new.stamp, new.entity_id), (id, nb, op.entity_id));
        let OpBody::Set { fields } = new.body else {
            panic!("still a set")
        };
        assert_eq!(
            fields["phone"].base,
            Some(na),
            "the base follows its rename"
        );
        assert_eq!(fields["unit"].base, Some(remote), "others' stamps are kept");
        assert_eq!(fields["kind"].base, None);
        assert_eq!(fields["phone"].value, json!("13800000000"));
    }

    #[test]
    fn a_restamped_case_event_keeps_its_id_and_takes_the_new_stamp() {
        let me = Uuid::now_v7();
        let old = stamp(9_000, me);
        let event = CaseEvent {
            id: Uuid::now_v7(),
            case_id: Uuid::now_v7(),
            stamp: old,
            actor: None,
            action: CaseAction::Note {
                text: "楼道已清理".into(),
            },
        };
        let op = Op {
            id: Uuid::now_v7(),
            stamp: old,
            entity: EntityKind::Case,
            entity_id: event.case_id,
            body: OpBody::CaseEvent {
                event: event.clone(),
            },
        };
        let new = restamped(&op, Uuid::now_v7(), stamp(10, me), &HashMap::new());
        let OpBody::CaseEvent { event: e } = new.body else {
            panic!("still an event")
        };
        assert_eq!((e.id, e.stamp), (event.id, stamp(10, me)));
        assert_ne!(new.id, op.id);
    }

    #[test]
    fn only_the_stamps_of_the_replaced_operation_move() {
        let me = Uuid::now_v7();
        let (old, new, other) = (stamp(9_000, me), stamp(10, me), stamp(9_001, me));
        let mut state = RecordState::new(EntityKind::Household, Uuid::now_v7());
        state.fields.insert("unit".into(), json!("2-301"));
        state.fields.insert("phone".into(), json!("13800000000"));
        state.stamps.insert("unit".into(), old);
        state.stamps.insert("phone".into(), other);
        assert!(replace_stamp(&mut state, old, new));
        assert_eq!(state.stamps["unit"], new);
        assert_eq!(state.stamps["phone"], other);
        assert_eq!(state.fields["unit"], json!("2-301"), "values are untouched");
        assert!(!replace_stamp(&mut state, old, new), "nothing left to move");
    }
}
