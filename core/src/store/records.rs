//! Applying operations to the local store: records merged field by field through the domain's
//! merge rules, case events merged by union and refolded, the search index refreshed, and
//! values this device lost to concurrent writes kept as conflicts.
//!
//! Local writes and pulled operations go through the same [`apply_op`], inside the caller's
//! transaction.

use std::collections::BTreeMap;

use gridwork_domain::hlc::Stamp;
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::{MergeOutcome, RecordState};
use gridwork_domain::model::Case;
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::workflow::{self, CaseEvent, CaseFold};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::store::search_index::{self, SearchRow};

/// What applying one operation did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// The store changed.
    pub changed: bool,
    /// Conflicts recorded for values this device had written.
    pub conflicts: usize,
}

/// Loads a record's merged state (tombstoned ones included).
pub fn load(conn: &Connection, id: Id) -> Result<Option<RecordState>> {
    Ok(load_held(conn, id)?.map(|(_, state)| state))
}

/// Whether the store holds a live (not deleted) record `id` of `kind`: a reference's check,
/// which reads the row's kind and tombstone only, not its fields.
pub fn is_live(conn: &Connection, kind: EntityKind, id: Id) -> Result<bool> {
    let row: Option<(String, bool)> = conn
        .prepare_cached("SELECT kind, tombstone IS NULL FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.is_some_and(|(k, live)| live && k == kind.as_str()))
}

/// Loads a record's merged state with its row id, for [`save_held`].
pub fn load_held(conn: &Connection, id: Id) -> Result<Option<(i64, RecordState)>> {
    let row = conn
        .prepare_cached("SELECT rid, kind, fields, stamps, tombstone FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    let Some((rid, kind, fields, stamps, tombstone)) = row else {
        return Ok(None);
    };
    let kind = EntityKind::parse(&kind)
        .ok_or_else(|| Error::StoreDamaged(format!("unknown record kind {kind:?}")))?;
    Ok(Some((
        rid,
        RecordState {
            kind,
            id,
            fields: serde_json::from_str(&fields)?,
            stamps: decode_stamps(&stamps)?,
            tombstone: tombstone.map(|t| serde_json::from_str(&t)).transpose()?,
        },
    )))
}

/// Writes the merged state of a record loaded by [`load_held`] in this transaction (an update
/// by row id: no probe of the id index, no conflict clause), or a new record when `rid` is
/// `None`.
pub fn save_held(
    conn: &Connection,
    rid: Option<i64>,
    state: &RecordState,
    search: SearchRow,
) -> Result<()> {
    let Some(rid) = rid else {
        return save_with(conn, state, search);
    };
    let row = Encoded::of(state)?;
    conn.prepare_cached(
        "UPDATE records SET fields = ?2, stamps = ?3, tombstone = ?4, updated_hlc = ?5
         WHERE rid = ?1",
    )?
    .execute(params![
        rid,
        row.fields,
        row.stamps,
        row.tombstone,
        row.updated_hlc
    ])?;
    keep_parent(conn, rid, state.kind)?;
    search_index::refresh(conn, rid, search)
}

/// The field that names a record's parent, kept in the column `records.parent` and indexed with
/// the kind (`records_by_parent`, ADR 0047): the lists by parent read it. Must agree with
/// migration 007.
pub fn parent_path(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Area => Some("$.parent_id"),
        EntityKind::Building => Some("$.grid_id"),
        EntityKind::Household => Some("$.building_id"),
        EntityKind::Resident => Some("$.household_id"),
        EntityKind::Registration => Some("$.resident_id"),
        EntityKind::Case => Some("$.area_id"),
        EntityKind::PatrolVisit => Some("$.patrol_id"),
        EntityKind::Station | EntityKind::Patrol => None,
    }
}

/// Sets a record's `parent` column from its fields only when it changed: an UPDATE that names
/// the column rewrites the record's index entry, one encrypted page, even to the same value.
fn keep_parent(conn: &Connection, rid: i64, kind: EntityKind) -> Result<()> {
    conn.prepare_cached(
        "UPDATE records SET parent = json_extract(fields, ?2)
         WHERE rid = ?1 AND parent IS NOT json_extract(fields, ?2)",
    )?
    .execute(params![rid, parent_path(kind)])?;
    Ok(())
}

/// The stored columns of a record's state.
struct Encoded {
    fields: String,
    stamps: String,
    tombstone: Option<String>,
    updated_hlc: i64,
}

impl Encoded {
    fn of(state: &RecordState) -> Result<Encoded> {
        Ok(Encoded {
            fields: serde_json::to_string(&state.fields)?,
            stamps: encode_stamps(&state.stamps)?,
            tombstone: state
                .tombstone
                .map(|t| serde_json::to_string(&t))
                .transpose()?,
            updated_hlc: state.latest_stamp().map_or(0, |s| s.hlc.as_i64()),
        })
    }
}

/// The key under which [`encode_stamps`] writes the stamp most fields share. Field names are
/// the model's snake_case names, never `*`.
const SHARED_STAMP: &str = "*";

/// A record's field stamps as stored: the stamp most fields share written once, as
/// `"*": [stamp, [field, …]]`, and every other field's stamp under its name (ADR 0047). A
/// record created in one edit has one stamp for all its fields, which the plain map repeated
/// once per field (70 bytes each, two thirds of a case's row): the smaller row fills a page a
/// third as often. [`decode_stamps`] reads both forms (stores written before hold plain maps).
pub fn encode_stamps(stamps: &BTreeMap<String, Stamp>) -> Result<String> {
    let mut counts: BTreeMap<Stamp, usize> = BTreeMap::new();
    for stamp in stamps.values() {
        *counts.entry(*stamp).or_default() += 1;
    }
    // The most common stamp (the smallest among equals, so the text is a function of the map).
    let shared = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .filter(|(_, n)| **n > 1)
        .map(|(s, _)| *s);
    let Some(shared) = shared.filter(|_| !stamps.contains_key(SHARED_STAMP)) else {
        return Ok(serde_json::to_string(stamps)?);
    };
    let mut out = serde_json::Map::new();
    let names: Vec<&String> = stamps
        .iter()
        .filter(|(_, s)| **s == shared)
        .map(|(k, _)| k)
        .collect();
    out.insert(
        SHARED_STAMP.into(),
        serde_json::json!([serde_json::to_value(shared)?, names]),
    );
    for (k, s) in stamps.iter().filter(|(_, s)| **s != shared) {
        out.insert(k.clone(), serde_json::to_value(s)?);
    }
    Ok(serde_json::to_string(&out)?)
}

/// Reads the stamps written by [`encode_stamps`], or a plain map of field to stamp.
pub fn decode_stamps(text: &str) -> Result<BTreeMap<String, Stamp>> {
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)?;
    let mut stamps = BTreeMap::new();
    for (k, v) in raw {
        if k == SHARED_STAMP {
            let (stamp, names): (Stamp, Vec<String>) = serde_json::from_value(v)?;
            for name in names {
                stamps.insert(name, stamp);
            }
        } else {
            stamps.insert(k, serde_json::from_value(v)?);
        }
    }
    Ok(stamps)
}

/// Writes a record's merged state and marks its search row for refreshing.
pub fn save(conn: &Connection, state: &RecordState) -> Result<()> {
    save_with(conn, state, SearchRow::Changed)
}

/// Writes a record's merged state; `search` says whether its searchable text may have changed
/// (an unchanged one is left alone).
pub fn save_with(conn: &Connection, state: &RecordState, search: SearchRow) -> Result<()> {
    let row = Encoded::of(state)?;
    let rid: i64 = conn
        .prepare_cached(
            "INSERT INTO records (id, kind, fields, stamps, tombstone, updated_hlc, parent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_extract(?3, ?7))
             ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, stamps = excluded.stamps,
                 tombstone = excluded.tombstone, updated_hlc = excluded.updated_hlc
             RETURNING rid",
        )?
        .query_row(
            params![
                state.id.to_string(),
                state.kind.as_str(),
                row.fields,
                row.stamps,
                row.tombstone,
                row.updated_hlc,
                parent_path(state.kind),
            ],
            |r| r.get(0),
        )?;
    keep_parent(conn, rid, state.kind)?;
    search_index::refresh(conn, rid, search)
}

/// Inserts a record the store does not hold, without a search mark (a bootstrap's write path,
/// `crate::store::bulk`): returns its row id, or `None` when the store holds the id already (the
/// caller merges it the usual way).
///
/// No `RETURNING` clause: SQLite collects a statement's returned rows in a temporary b-tree it
/// opens and closes for every statement (5 % of the phone's time in a bootstrap's profile). The row id
/// is the connection's last inserted one when the statement inserted a row (the change-noting
/// triggers' own inserts do not count in either, see `sqlite3_changes`).
pub fn insert_new(conn: &Connection, state: &RecordState) -> Result<Option<i64>> {
    let row = Encoded::of(state)?;
    // A parent that is text (every id is) is bound as it is; SQLite reads any other value out
    // of the fields as every write path does (`coalesce` evaluates its second argument only
    // when the first is null).
    let parent = parent_path(state.kind)
        .and_then(|path| state.fields.get(path.trim_start_matches("$.")))
        .and_then(|v| v.as_str());
    let inserted = conn
        .prepare_cached(
            "INSERT INTO records (id, kind, fields, stamps, tombstone, updated_hlc, parent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(?8, json_extract(?3, ?7)))
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            state.id.to_string(),
            state.kind.as_str(),
            row.fields,
            row.stamps,
            row.tombstone,
            row.updated_hlc,
            parent_path(state.kind),
            parent,
        ])?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

/// Applies one operation, local or remote. Idempotent: the same operation twice changes
/// nothing the second time.
pub fn apply_op(conn: &Connection, op: &Op, me: DeviceId, now_ms: u64) -> Result<Applied> {
    apply(conn, op, me, now_ms, true)
}

/// Applies a local edit's operation that the caller appends to the outbox in the same
/// transaction: no search mark, since the outbox row names the record for the next catch-up
/// (one encrypted page less an edit, ADR 0047).
pub fn apply_local_op(conn: &Connection, op: &Op, me: DeviceId, now_ms: u64) -> Result<Applied> {
    apply(conn, op, me, now_ms, false)
}

fn apply(conn: &Connection, op: &Op, me: DeviceId, now_ms: u64, mark: bool) -> Result<Applied> {
    match &op.body {
        OpBody::Set { .. } | OpBody::Delete => {
            let held = load_held(conn, op.entity_id)?;
            let rid = held.as_ref().map(|(rid, _)| *rid);
            let new = held.is_none();
            let mut state = match held.map(|(_, s)| s) {
                Some(s) if s.kind != op.entity => {
                    return Err(Error::StoreDamaged(format!(
                        "operation {} targets a {} but record {} is a {}",
                        op.id,
                        op.entity.as_str(),
                        op.entity_id,
                        s.kind.as_str()
                    )));
                }
                Some(s) => s,
                None => RecordState::new(op.entity, op.entity_id),
            };
            let outcome = state.merge(op);
            let mut applied = Applied {
                changed: outcome.changed(),
                conflicts: 0,
            };
            if applied.changed {
                let search = if !mark {
                    SearchRow::Unchanged
                } else if new {
                    SearchRow::Changed
                } else {
                    SearchRow::after_writing(&outcome.applied, outcome.deleted)
                };
                save_held(conn, rid, &state, search)?;
                if state.kind == EntityKind::Case {
                    refold_held(conn, &state)?;
                }
            }
            applied.conflicts = keep_lost_values(conn, &state, &outcome, me, now_ms)?;
            Ok(applied)
        }
        OpBody::CaseEvent { event } => {
            if event.case_id != op.entity_id {
                return Err(Error::StoreDamaged(format!(
                    "case event {} names case {} but its operation targets {}",
                    event.id, event.case_id, op.entity_id
                )));
            }
            let inserted = insert_case_event(conn, event)?;
            if inserted {
                refold_case(conn, event.case_id)?;
            }
            Ok(Applied {
                changed: inserted,
                conflicts: 0,
            })
        }
    }
}

/// Adds an event to a case's history unless it is already there (union by event id); the
/// caller refolds the case. Returns whether it was new.
pub fn insert_case_event(conn: &Connection, event: &CaseEvent) -> Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO case_events (id, case_id, hlc, device, event)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            event.id.to_string(),
            event.case_id.to_string(),
            event.stamp.hlc.as_i64(),
            event.stamp.device.to_string(),
            serde_json::to_string(event)?,
        ])?;
    Ok(inserted > 0)
}

/// Replaces a case event kept under the same id (its stamp changed: `sync::restamp`); the
/// caller refolds the case. Returns whether it was there.
pub fn replace_case_event(conn: &Connection, event: &CaseEvent) -> Result<bool> {
    let replaced = conn
        .prepare_cached("UPDATE case_events SET hlc = ?2, device = ?3, event = ?4 WHERE id = ?1")?
        .execute(params![
            event.id.to_string(),
            event.stamp.hlc.as_i64(),
            event.stamp.device.to_string(),
            serde_json::to_string(event)?,
        ])?;
    Ok(replaced > 0)
}

/// Records, as conflicts, the values written by this device that a concurrent write displaced.
fn keep_lost_values(
    conn: &Connection,
    state: &RecordState,
    outcome: &MergeOutcome,
    me: DeviceId,
    now_ms: u64,
) -> Result<usize> {
    let mut kept = 0;
    for d in outcome
        .displaced
        .iter()
        .filter(|d| d.lost_stamp.device == me)
    {
        kept += conn
            .prepare_cached(
                "INSERT OR IGNORE INTO conflicts (id, entity_kind, entity_id, field, lost_value,
                     lost_stamp, won_value, won_stamp, detected_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                crate::new_id().to_string(),
                state.kind.as_str(),
                state.id.to_string(),
                d.field,
                serde_json::to_string(&d.lost_value)?,
                serde_json::to_string(&d.lost_stamp)?,
                serde_json::to_string(&d.won_value)?,
                serde_json::to_string(&d.won_stamp)?,
                now_ms as i64,
            ])?;
    }
    Ok(kept)
}

/// All events of a case, in no particular order.
pub fn case_events(conn: &Connection, case_id: Id) -> Result<Vec<CaseEvent>> {
    let mut stmt = conn.prepare_cached("SELECT event FROM case_events WHERE case_id = ?1")?;
    let rows = stmt.query_map([case_id.to_string()], |r| r.get::<_, String>(0))?;
    let mut events = Vec::new();
    for row in rows {
        events.push(serde_json::from_str(&row?)?);
    }
    Ok(events)
}

/// Recomputes a case's state from its events (once the case record itself is known).
///
/// A case without events keeps no fold row: its fold is its kind's first state from the moment
/// it was opened, which [`case_fold`] and [`fold_or_initial`] compute from the record (one
/// b-tree less for every case reported, ADR 0047). A fold row is written only when it changes.
pub fn refold_case(conn: &Connection, case_id: Id) -> Result<Option<CaseFold>> {
    match load(conn, case_id)? {
        Some(state) => refold_held(conn, &state),
        None => Ok(None),
    }
}

/// [`refold_case`] for a case whose merged state is at hand (just saved).
fn refold_held(conn: &Connection, state: &RecordState) -> Result<Option<CaseFold>> {
    let case_id = state.id;
    let Ok(case) = state.decode::<Case>() else {
        return Ok(None);
    };
    let events = case_events(conn, case_id)?;
    let fold = workflow::fold(case.kind, case.opened_at_ms, &events);
    if events.is_empty() {
        conn.prepare_cached("DELETE FROM case_folds WHERE case_id = ?1")?
            .execute([case_id.to_string()])?;
        return Ok(Some(fold));
    }
    let closed = fold.state.is_closed() || state.is_deleted();
    let encoded = serde_json::to_string(&fold)?;
    let held: Option<(bool, String)> = conn
        .prepare_cached("SELECT closed, fold FROM case_folds WHERE case_id = ?1")?
        .query_row([case_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if held.is_some_and(|(c, f)| c == closed && f == encoded) {
        return Ok(Some(fold));
    }
    conn.prepare_cached(
        "INSERT INTO case_folds (case_id, state, closed, fold) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (case_id) DO UPDATE SET state = excluded.state, closed = excluded.closed,
             fold = excluded.fold",
    )?
    .execute(params![
        case_id.to_string(),
        fold.state.as_str(),
        closed,
        encoded
    ])?;
    Ok(Some(fold))
}

/// The fold of a case: its stored row, or for a case without events (no row, see
/// [`refold_case`]) its kind's first state; `None` when the store does not hold the case.
pub fn case_fold(conn: &Connection, case_id: Id) -> Result<Option<CaseFold>> {
    if let Some(f) = stored_fold(conn, case_id)? {
        return Ok(Some(serde_json::from_str(&f)?));
    }
    let Some(state) = load(conn, case_id)? else {
        return Ok(None);
    };
    let Ok(case) = state.decode::<Case>() else {
        return Ok(None);
    };
    Ok(Some(fold_or_initial(&case, None)?))
}

/// The fold of `case`, held by the store: its stored row, or with none the fold of a case
/// without events ([`case_fold`] for a case already decoded).
pub fn case_fold_of(conn: &Connection, case: &Case) -> Result<CaseFold> {
    fold_or_initial(case, stored_fold(conn, case.id)?.as_deref())
}

/// A case's stored fold row (none for a case without events).
fn stored_fold(conn: &Connection, case_id: Id) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT fold FROM case_folds WHERE case_id = ?1")?
        .query_row([case_id.to_string()], |r| r.get(0))
        .optional()?)
}

/// A case's fold as a list read it (`LEFT JOIN case_folds`): the stored one, or with no row the
/// fold of a case without events.
pub fn fold_or_initial(case: &Case, stored: Option<&str>) -> Result<CaseFold> {
    Ok(match stored {
        Some(f) => serde_json::from_str(f)?,
        None => workflow::fold(case.kind, case.opened_at_ms, &[]),
    })
}

/// The stamp of one field of a record, if it has been written.
pub fn field_stamp(state: &RecordState, field: &str) -> Option<Stamp> {
    state.stamps.get(field).copied()
}

/// Removes every local trace of a record that left this user's scope: its state, search row,
/// case events and fold, and the conflicts kept for it. The outbox is never touched, so an
/// unsynced edit to it is still pushed (and, if now out of reach, comes back rejected with the
/// reason). Returns whether the record was held.
pub fn purge(conn: &Connection, id: Id) -> Result<bool> {
    let key = id.to_string();
    let rid: Option<i64> = conn
        .prepare_cached("DELETE FROM records WHERE id = ?1 RETURNING rid")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    if let Some(rid) = rid {
        conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
            .execute([rid])?;
        conn.prepare_cached("DELETE FROM search_stale WHERE rid = ?1")?
            .execute([rid])?;
    }
    let held = rid.is_some();
    conn.prepare_cached("DELETE FROM case_events WHERE case_id = ?1")?
        .execute([&key])?;
    conn.prepare_cached("DELETE FROM case_folds WHERE case_id = ?1")?
        .execute([&key])?;
    conn.prepare_cached("DELETE FROM conflicts WHERE entity_id = ?1")?
        .execute([&key])?;
    Ok(held)
}

/// The ids of every record held, for the sweep after a new snapshot.
pub fn all_ids(conn: &Connection) -> Result<Vec<Id>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM records")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut ids = Vec::new();
    for row in rows {
        ids.push(
            row?.parse()
                .map_err(|_| Error::StoreDamaged("a record id is not a UUID".into()))?,
        );
    }
    Ok(ids)
}

#[cfg(test)]
mod stamp_tests {
    use super::*;
    use gridwork_domain::hlc::Hlc;

    fn stamp(hlc: u64, device: u128) -> Stamp {
        Stamp::new(Hlc::from_u64(hlc), DeviceId::from_u128(device))
    }

    #[test]
    fn stamps_shared_by_fields_are_written_once_and_read_back_as_they_were() {
        let a = stamp(10, 1);
        let b = stamp(20, 2);
        let mut created: BTreeMap<String, Stamp> = ["title", "category", "severity", "area_id"]
            .into_iter()
            .map(|f| (f.to_string(), a))
            .collect();
        let plain = serde_json::to_string(&created).unwrap();
        let text = encode_stamps(&created).unwrap();
        assert!(text.len() * 2 < plain.len(), "{text} against {plain}");
        assert_eq!(decode_stamps(&text).unwrap(), created);

        // One field written later keeps its own stamp; the text is the same for the same map.
        created.insert("severity".into(), b);
        let text = encode_stamps(&created).unwrap();
        assert_eq!(text.matches("\"hlc\"").count(), 2, "{text}");
        assert_eq!(decode_stamps(&text).unwrap(), created);
        assert_eq!(encode_stamps(&created.clone()).unwrap(), text);

        // No stamp shared: the plain map, which stores written before this form hold.
        let single: BTreeMap<String, Stamp> = [("phone".to_string(), b)].into_iter().collect();
        let text = encode_stamps(&single).unwrap();
        assert_eq!(text, serde_json::to_string(&single).unwrap());
        assert_eq!(decode_stamps(&text).unwrap(), single);
        assert_eq!(decode_stamps(&plain).unwrap().len(), 4);
        assert_eq!(decode_stamps("{}").unwrap(), BTreeMap::new());
        assert_eq!(encode_stamps(&BTreeMap::new()).unwrap(), "{}");
    }
}
