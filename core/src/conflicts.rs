//! Conflicts the user can see and act on: values this device wrote that lost to a concurrent
//! write from another device (kept, listable, re-appliable as a new operation), and case events
//! the lifecycle fold could not apply (kept in the history, flagged).

use gridwork_domain::hlc::Stamp;
use gridwork_domain::ids::Id;
use gridwork_domain::op::{EntityKind, FieldWrite};
use gridwork_domain::validate::resident_id;
use rusqlite::params;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, set_op};
use crate::store::records;

/// A value of ours that lost to a concurrent edit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldConflict {
    pub id: Id,
    pub entity: EntityKind,
    pub entity_id: Id,
    pub field: String,
    /// What this device wrote.
    pub lost_value: Value,
    pub lost_stamp: Stamp,
    /// What won (by HLC, then device id).
    pub won_value: Value,
    pub won_stamp: Stamp,
    pub detected_ms: u64,
}

/// An ID number shown in a list is masked; other values are shown as they are.
fn masked(field: &str, value: Value) -> Value {
    match value {
        Value::String(s) if field == "id_number" => Value::String(resident_id::mask(&s)),
        other => other,
    }
}

/// A case event the fold could not apply (e.g. an alarm resolved on two phones at once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseEventConflict {
    pub case_id: Id,
    pub event_id: Id,
    pub reason: String,
}

impl Gridwork {
    /// Open field conflicts, newest first. It is a list: an ID number in it is masked (the
    /// whole value stays in the store, and [`Gridwork::reapply_conflict`] writes it back).
    pub fn field_conflicts(&self) -> Result<Vec<FieldConflict>> {
        let mut all = self.field_conflicts_whole()?;
        for c in &mut all {
            c.lost_value = masked(&c.field, std::mem::take(&mut c.lost_value));
            c.won_value = masked(&c.field, std::mem::take(&mut c.won_value));
        }
        Ok(all)
    }

    /// The open field conflicts with their values whole.
    fn field_conflicts_whole(&self) -> Result<Vec<FieldConflict>> {
        self.query(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, entity_kind, entity_id, field, lost_value, lost_stamp, won_value,
                        won_stamp, detected_ms
                 FROM conflicts WHERE status = 'open' ORDER BY detected_ms DESC, id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, entity_id, field, lv, ls, wv, ws, at) = row?;
                let bad = |what: &str| Error::StoreDamaged(format!("conflict {id}: bad {what}"));
                let lost_value = serde_json::from_str(&lv)?;
                let won_value = serde_json::from_str(&wv)?;
                out.push(FieldConflict {
                    id: id.parse().map_err(|_| bad("id"))?,
                    entity: EntityKind::parse(&kind).ok_or_else(|| bad("kind"))?,
                    entity_id: entity_id.parse().map_err(|_| bad("entity id"))?,
                    field,
                    lost_value,
                    lost_stamp: serde_json::from_str(&ls)?,
                    won_value,
                    won_stamp: serde_json::from_str(&ws)?,
                    detected_ms: at as u64,
                });
            }
            Ok(out)
        })
    }

    /// Case events flagged by the fold, across all cases on the device.
    pub fn case_event_conflicts(&self) -> Result<Vec<CaseEventConflict>> {
        self.query(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT case_id, fold FROM case_folds WHERE json_array_length(fold, '$.flagged') > 0
                 ORDER BY case_id",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (case_id, fold) = row?;
                let fold: gridwork_domain::workflow::CaseFold = serde_json::from_str(&fold)?;
                let case_id: Id = case_id
                    .parse()
                    .map_err(|_| Error::StoreDamaged("case id is not a uuid".into()))?;
                out.extend(fold.flagged.into_iter().map(|f| CaseEventConflict {
                    case_id,
                    event_id: f.event_id,
                    reason: f.reason,
                }));
            }
            Ok(out)
        })
    }

    /// Writes the losing value of a conflict again, as a new operation that has seen the
    /// winner (so it wins, and is not itself reported as a conflict elsewhere).
    pub fn reapply_conflict(&self, conflict_id: Id) -> Result<()> {
        let c = self
            .field_conflicts_whole()?
            .into_iter()
            .find(|c| c.id == conflict_id)
            .ok_or_else(|| Error::NotFound {
                kind: "conflict",
                id: conflict_id.to_string(),
            })?;
        self.commit_local(|tx, stamp| {
            let state = records::load(tx, c.entity_id)?
                .filter(|s| !s.is_deleted())
                .ok_or_else(|| Error::NotFound {
                    kind: c.entity.as_str(),
                    id: c.entity_id.to_string(),
                })?;
            let base = records::field_stamp(&state, &c.field);
            let mut fields = std::collections::BTreeMap::new();
            fields.insert(
                c.field.clone(),
                FieldWrite {
                    value: c.lost_value.clone(),
                    base,
                },
            );
            mark(tx, conflict_id, "reapplied")?;
            Ok((vec![set_op(stamp, c.entity, c.entity_id, fields)], ()))
        })
    }

    /// Accepts the winner: the conflict leaves the list.
    pub fn dismiss_conflict(&self, conflict_id: Id) -> Result<()> {
        let changed = self.read(|conn| mark(conn, conflict_id, "dismissed"))?;
        if !changed {
            return Err(Error::NotFound {
                kind: "conflict",
                id: conflict_id.to_string(),
            });
        }
        Ok(())
    }
}

fn mark(conn: &rusqlite::Connection, id: Id, status: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE conflicts SET status = ?2 WHERE id = ?1 AND status = 'open'")?
        .execute(params![id.to_string(), status])?;
    Ok(n > 0)
}
