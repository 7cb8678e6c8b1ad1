//! Reading and writing the materialized state of records (`records` table) with their places,
//! and the case histories (`case_events`).

use std::cell::RefCell;
use std::collections::HashMap;

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::{Place, filed_under, filed_under_move};
use gridwork_domain::workflow::{CaseEvent, Ledger};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rules::plan::{BucketChange, Facts, StoredOp};
use crate::rules::{self, plan};
use crate::storage::{PlacedRecord, StorageError};

/// A record's merged state, tombstoned ones included.
pub fn load(conn: &Connection, id: Id) -> Result<Option<RecordState>, StorageError> {
    let json: Option<String> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
}

/// A stored record's place: `None` when there is no such record; an unresolved place when it
/// was stored before places were kept.
pub fn load_place(conn: &Connection, id: Id) -> Result<Option<Place>, StorageError> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT kind, place FROM records WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((kind, place)) = row else {
        return Ok(None);
    };
    match place {
        Some(json) => Ok(Some(serde_json::from_str(&json)?)),
        None => Ok(EntityKind::parse(&kind).map(|k| Place::unresolved(k, id))),
    }
}

/// Writes a record's merged state with its place (and the scope key and parent that follow
/// from them) and the sequence number that changed it.
pub fn save(
    conn: &Connection,
    state: &RecordState,
    place: &Place,
    seq: u64,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT INTO records (id, kind, state, scope_key, updated_seq, place, parent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, scope_key = excluded.scope_key,
             updated_seq = excluded.updated_seq, place = excluded.place,
             parent = excluded.parent",
    )?
    .execute(params![
        state.id.to_string(),
        state.kind.as_str(),
        serde_json::to_string(state)?,
        rules::key_of(&place.areas),
        seq as i64,
        serde_json::to_string(place)?,
        rules::parent(state).map(|p| p.to_string()),
    ])?;
    Ok(())
}

/// Updates a stored record's place (and scope key) alone: a case that got an event, a
/// household whose building moved.
pub fn set_place(conn: &Connection, id: Id, place: &Place) -> Result<(), StorageError> {
    conn.prepare_cached("UPDATE records SET place = ?2, scope_key = ?3 WHERE id = ?1")?
        .execute(params![
            id.to_string(),
            serde_json::to_string(place)?,
            rules::key_of(&place.areas),
        ])?;
    Ok(())
}

/// Every event of a case, in stamp order.
pub fn events_of(conn: &Connection, case: Id) -> Result<Vec<CaseEvent>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT event FROM case_events WHERE case_id = ?1 ORDER BY hlc, id")?;
    let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
    let mut events = Vec::new();
    for row in rows {
        events.push(serde_json::from_str(&row?)?);
    }
    Ok(events)
}

/// Record states and places read while the writer decides a group of pushes, kept for the
/// group's later operations: placing an operation walks up its record's links (a household,
/// its building, the grid, the community, …), and the operations of a group share most of
/// those records, so each was read and decoded again and again (a profile of the closed loop
/// put over a third of the writer thread there). An entry is forgotten when its record is
/// written, and the whole is dropped when a push of the group fails (its reads may have seen
/// its rolled-back writes) and with the group.
#[derive(Debug, Default)]
pub struct Loaded {
    states: RefCell<HashMap<Id, Option<RecordState>>>,
    places: RefCell<HashMap<Id, Option<Place>>>,
}

impl Loaded {
    /// Forgets what was read of `id` (it is being written).
    pub fn forget(&self, id: Id) {
        self.states.borrow_mut().remove(&id);
        self.places.borrow_mut().remove(&id);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.states.borrow_mut().clear();
        self.places.borrow_mut().clear();
    }
}

/// The planner's view of the database inside one push transaction (see
/// [`crate::rules::plan::Facts`]): each fact is one indexed read, records and places kept in
/// `loaded` when the writer gives one.
pub struct SqliteFacts<'c> {
    pub conn: &'c Connection,
    pub loaded: Option<&'c Loaded>,
}

impl Facts for SqliteFacts<'_> {
    type Error = StorageError;

    fn record(&mut self, id: Id) -> Result<Option<RecordState>, StorageError> {
        let Some(loaded) = self.loaded else {
            return load(self.conn, id);
        };
        if let Some(known) = loaded.states.borrow().get(&id) {
            return Ok(known.clone());
        }
        let state = load(self.conn, id)?;
        loaded.states.borrow_mut().insert(id, state.clone());
        Ok(state)
    }

    fn place(&mut self, id: Id) -> Result<Option<Place>, StorageError> {
        let Some(loaded) = self.loaded else {
            return load_place(self.conn, id);
        };
        if let Some(known) = loaded.places.borrow().get(&id) {
            return Ok(known.clone());
        }
        let place = load_place(self.conn, id)?;
        loaded.places.borrow_mut().insert(id, place.clone());
        Ok(place)
    }

    fn events(&mut self, case: Id) -> Result<Vec<CaseEvent>, StorageError> {
        events_of(self.conn, case)
    }

    fn stored_op(&mut self, op_id: Id) -> Result<Option<StoredOp>, StorageError> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, device_id FROM ops WHERE op_id = ?1")?
            .query_row([op_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(seq, device)| {
            Some(StoredOp {
                seq: seq as u64,
                device: device.parse().ok()?,
            })
        }))
    }

    fn children(&mut self, id: Id) -> Result<Vec<Id>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM records WHERE parent = ?1")?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(id) = row?.parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn guard(&mut self, _: Id) -> Result<(), StorageError> {
        // One writer: a push's transaction holds the whole database already.
        Ok(())
    }

    fn case_places(&mut self, building: Id) -> Result<Vec<(Id, Place)>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, place FROM records
             WHERE parent = ?1 AND kind = 'case' AND place IS NOT NULL",
        )?;
        let rows = stmt.query_map([building.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, place) = row?;
            if let Ok(id) = id.parse() {
                out.push((id, serde_json::from_str(&place)?));
            }
        }
        Ok(out)
    }
}

/// The place of a stored record, computed from the records it links to.
pub fn compute_place(conn: &Connection, state: &RecordState) -> Result<Place, StorageError> {
    plan::place_now(&mut SqliteFacts { conn, loaded: None }, state)
}

/// Changes a record's rows in `record_buckets`.
pub fn refile(conn: &Connection, change: &BucketChange) -> Result<(), StorageError> {
    let id = change.id.to_string();
    for bucket in &change.remove {
        conn.prepare_cached("DELETE FROM record_buckets WHERE bucket = ?1 AND id = ?2")?
            .execute(params![bucket.to_bytes().as_slice(), id])?;
    }
    for bucket in &change.add {
        conn.prepare_cached("INSERT OR IGNORE INTO record_buckets (bucket, id) VALUES (?1, ?2)")?
            .execute(params![bucket.to_bytes().as_slice(), id])?;
    }
    Ok(())
}

/// A record and everything hanging from it, with current places.
pub fn family(conn: &Connection, root: Id) -> Result<Vec<PlacedRecord>, StorageError> {
    // UNION (not UNION ALL) ends a cycle of parent links; the depth bounds a broken chain.
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE fam (id, depth) AS (
             SELECT ?1, 0
             UNION
             SELECT r.id, fam.depth + 1 FROM records r JOIN fam ON r.parent = fam.id
             WHERE fam.depth < 12
         )
         SELECT DISTINCT r.state, r.place FROM records r JOIN fam ON r.id = fam.id",
    )?;
    let rows = stmt.query_map([root.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (state, place) = row?;
        out.push(PlacedRecord {
            state: serde_json::from_str(&state)?,
            place: place.map(|p| serde_json::from_str(&p)).transpose()?,
        });
    }
    Ok(out)
}

/// Computes and stores the place and parent of every record, and gives every operation stored
/// without a place its record's: the upgrade of a database from before places were kept.
pub fn backfill_places(conn: &Connection) -> Result<usize, StorageError> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM records WHERE place IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        let Ok(id) = id.parse::<Id>() else { continue };
        let Some(state) = load(conn, id)? else {
            continue;
        };
        let place = compute_place(conn, &state)?;
        conn.prepare_cached("UPDATE records SET place = ?2, parent = ?3 WHERE id = ?1")?
            .execute(params![
                id.to_string(),
                serde_json::to_string(&place)?,
                rules::parent(&state).map(|p| p.to_string()),
            ])?;
    }
    conn.execute(
        "UPDATE ops SET place = (SELECT place FROM records WHERE records.id = ops.entity_id)
         WHERE place IS NULL",
        [],
    )?;
    Ok(ids.len())
}

/// Files every stored operation and record under the buckets of the places an older server
/// kept: the upgrade to scope buckets (migration 004). Logs progress on a large log.
pub fn backfill_buckets(conn: &Connection) -> Result<(), StorageError> {
    let mut file_op =
        conn.prepare("INSERT OR IGNORE INTO op_buckets (bucket, seq) VALUES (?1, ?2)")?;
    let mut ops = conn.prepare("SELECT seq, place, prior FROM ops WHERE place IS NOT NULL")?;
    let mut rows = ops.query([])?;
    let mut filed = 0usize;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let place: Place = serde_json::from_str(&row.get::<_, String>(1)?)?;
        let prior: Option<Place> = row
            .get::<_, Option<String>>(2)?
            .map(|p| serde_json::from_str(&p))
            .transpose()?;
        for bucket in filed_under_move(&place, prior.as_ref()) {
            file_op.execute(params![bucket.to_bytes().as_slice(), seq])?;
        }
        filed += 1;
        if filed.is_multiple_of(100_000) {
            tracing::info!(operations = filed, "filing the log under scope buckets");
        }
    }
    let mut file_record =
        conn.prepare("INSERT OR IGNORE INTO record_buckets (bucket, id) VALUES (?1, ?2)")?;
    let mut records = conn.prepare("SELECT id, place FROM records WHERE place IS NOT NULL")?;
    let mut rows = records.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let place: Place = serde_json::from_str(&row.get::<_, String>(1)?)?;
        for bucket in filed_under(&place) {
            file_record.execute(params![bucket.to_bytes().as_slice(), id])?;
        }
    }
    Ok(())
}

/// Up to `limit` records after `after` in id order, the length of each one's stored JSON, and
/// whether more follow.
pub fn rows(
    conn: &Connection,
    after: Option<Id>,
    limit: usize,
) -> Result<(Vec<PlacedRecord>, Vec<usize>, bool), StorageError> {
    // Hyphenated lower-case UUIDs sort as text the way `Uuid` sorts, so `after` works.
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT state, place FROM records WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let mut rows = stmt.query(params![after, limit as i64 + 1])?;
    let mut out = Vec::with_capacity(limit.min(1024));
    let mut bytes = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    while let Some(row) = rows.next()? {
        if out.len() == limit {
            more = true;
            break;
        }
        let (record, size) = placed(row)?;
        out.push(record);
        bytes.push(size);
    }
    Ok((out, bytes, more))
}

/// One record with its place and the length of its stored JSON.
pub fn load_placed(
    conn: &Connection,
    id: Id,
) -> Result<Option<(PlacedRecord, usize)>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT state, place FROM records WHERE id = ?1")?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => Ok(Some(placed(row)?)),
        None => Ok(None),
    }
}

/// A record from a row of `state, place`, with the length of its state's JSON.
fn placed(row: &rusqlite::Row<'_>) -> Result<(PlacedRecord, usize), StorageError> {
    let state: String = row.get(0)?;
    let place: Option<String> = row.get(1)?;
    Ok((
        PlacedRecord {
            state: serde_json::from_str(&state)?,
            place: place.map(|p| serde_json::from_str(&p)).transpose()?,
        },
        state.len(),
    ))
}

/// What the ledger rules need to judge `state` ([`plan::ledger_of`] over the stored records).
pub fn ledger(conn: &Connection, state: &RecordState) -> Result<Ledger, StorageError> {
    plan::ledger_of(&mut SqliteFacts { conn, loaded: None }, state)
}
