//! Reading and writing the materialized state of records (`records` table) with their places,
//! and the case histories (`case_events`).

use std::cell::RefCell;
use std::sync::Arc;

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::{Place, filed_under, filed_under_move};
use gridwork_domain::workflow::{CaseEvent, Ledger};
use hashlink::LruCache;
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

/// Writes a stored record's merged state alone, when its place and parent are what they were:
/// the columns of the record's indexes (`parent`) are left untouched, so SQLite does not rewrite
/// their entries (it rewrites an index's entry whenever its column is set, to the same value or
/// not). A household's phone changed costs the record's page, not also a page of the parent
/// index. Returns whether the record is stored.
pub fn save_state(conn: &Connection, state: &RecordState, seq: u64) -> Result<bool, StorageError> {
    let changed = conn
        .prepare_cached("UPDATE records SET state = ?2, updated_seq = ?3 WHERE id = ?1")?
        .execute(params![
            state.id.to_string(),
            serde_json::to_string(state)?,
            seq as i64,
        ])?;
    Ok(changed > 0)
}

/// Updates a stored record's place (and scope key) alone: a case that got an event, a
/// household whose building moved. Returns whether the record is stored (else nothing changed).
pub fn set_place(conn: &Connection, id: Id, place: &Place) -> Result<bool, StorageError> {
    let changed = conn
        .prepare_cached("UPDATE records SET place = ?2, scope_key = ?3 WHERE id = ?1")?
        .execute(params![
            id.to_string(),
            serde_json::to_string(place)?,
            rules::key_of(&place.areas),
        ])?;
    Ok(changed > 0)
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

/// Record states and places the writer has read or written, kept for the pushes that follow:
/// placing an operation walks up its record's links (a household, its building, the grid, the
/// community, …), and the operations of a group, and of the groups after it, share most of those
/// records, so each was read and decoded again and again (a profile of the closed loop put over
/// a third of the writer thread there when this was kept for one group only).
///
/// The writer thread is the only connection of this process that writes, so what it keeps stays
/// true as long as every write it makes is told here: `push_in` remembers what it saves and
/// forgets what it changes otherwise. What the writer cannot see is dropped whole: a push of a
/// group that fails (its reads may have seen its rolled-back writes), a commit that fails, any
/// other job on the writer connection (enrollment, accounts, intake: they write by their own
/// SQL), and a commit by another connection or process (an operator's command on the same file),
/// noticed through `PRAGMA data_version` before each group. It keeps [`LOADED_RECORDS`] states
/// and as many places at most, the least recently used going first, so its memory is bounded.
pub struct Loaded {
    states: RefCell<LruCache<Id, Option<Arc<RecordState>>>>,
    places: RefCell<LruCache<Id, Option<Place>>>,
    /// The database's `data_version` when this was last known to match it.
    version: RefCell<Option<i64>>,
    /// Records and places read from the database since [`Loaded::take_reads`].
    reads: std::cell::Cell<usize>,
}

/// States (and places) kept at most: the areas, buildings and stations of a large district and
/// the records pushed to most recently, in ~50 MB (a household's state and place take ~1.8 KB
/// decoded, as `tests/push_memory.rs` counts).
pub const LOADED_RECORDS: usize = 30_000;

impl Default for Loaded {
    fn default() -> Loaded {
        Loaded::with_capacity(LOADED_RECORDS)
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("states", &self.states.borrow().len())
            .field("places", &self.places.borrow().len())
            .finish()
    }
}

impl Loaded {
    /// Keeps at most `records` states and as many places.
    pub fn with_capacity(records: usize) -> Loaded {
        Loaded {
            states: RefCell::new(LruCache::new(records)),
            places: RefCell::new(LruCache::new(records)),
            version: RefCell::new(None),
            reads: std::cell::Cell::new(0),
        }
    }

    /// Records and places read from the database (not found kept) since the last call.
    pub fn take_reads(&self) -> usize {
        self.reads.take()
    }

    /// Forgets what was read of `id` (it is being written).
    pub fn forget(&self, id: Id) {
        self.states.borrow_mut().remove(&id);
        self.places.borrow_mut().remove(&id);
    }

    /// Keeps what was just written of a record: its state and place, as a read would find them.
    pub fn remember(&self, state: &RecordState, place: &Place) {
        self.states
            .borrow_mut()
            .insert(state.id, Some(Arc::new(state.clone())));
        self.places
            .borrow_mut()
            .insert(state.id, Some(place.clone()));
    }

    /// Keeps a record's new place (its state unchanged), or forgets the record when it was
    /// not stored (`stored` false: the update changed nothing).
    pub fn remember_place(&self, id: Id, place: &Place, stored: bool) {
        if stored {
            self.places.borrow_mut().insert(id, Some(place.clone()));
        } else {
            self.forget(id);
        }
    }

    /// Whether the state kept of record `id` (what the last push read or wrote of it, the
    /// database not read) hangs from `parent`; false when none is kept.
    pub fn kept_parent_is(&self, id: Id, parent: Option<Id>) -> bool {
        self.states
            .borrow()
            .peek(&id)
            .and_then(Option::as_ref)
            .is_some_and(|before| rules::parent(before) == parent)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.states.borrow_mut().clear();
        self.places.borrow_mut().clear();
        self.version.borrow_mut().take();
    }

    /// Entries kept now (states and places).
    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.states.borrow().len() + self.places.borrow().len()
    }

    /// Before a group: drops everything when another connection committed since the last
    /// group (or nothing is known of the database yet).
    pub fn check(&self, conn: &Connection) -> Result<(), StorageError> {
        let now: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let known = *self.version.borrow();
        if known != Some(now) {
            self.clear();
        }
        *self.version.borrow_mut() = Some(now);
        Ok(())
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
        if self.loaded.is_none() {
            return load(self.conn, id);
        }
        Ok(self.shared_record(id)?.map(|state| (*state).clone()))
    }

    fn shared_record(&mut self, id: Id) -> Result<Option<Arc<RecordState>>, StorageError> {
        let Some(loaded) = self.loaded else {
            return Ok(load(self.conn, id)?.map(Arc::new));
        };
        if let Some(known) = loaded.states.borrow_mut().get(&id) {
            return Ok(known.clone());
        }
        let state = load(self.conn, id)?.map(Arc::new);
        loaded.reads.set(loaded.reads.get() + 1);
        loaded.states.borrow_mut().insert(id, state.clone());
        Ok(state)
    }

    fn place(&mut self, id: Id) -> Result<Option<Place>, StorageError> {
        let Some(loaded) = self.loaded else {
            return load_place(self.conn, id);
        };
        if let Some(known) = loaded.places.borrow_mut().get(&id) {
            return Ok(known.clone());
        }
        let place = load_place(self.conn, id)?;
        loaded.reads.set(loaded.reads.get() + 1);
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

/// The records of `ids` (ascending, as a snapshot page's ids come), in that order, each with
/// the length of its stored JSON, and how many rows were read to find them; an id without a
/// record is left out.
///
/// One looked-up id at a time costs a descent of the `WITHOUT ROWID` table from its root, and
/// SQLite compares the key sought with whole rows on the way down: a row longer than about
/// 1,000 bytes (a household with its stamps) continues on overflow pages, which SQLite reads
/// with a read call for every comparison that meets it (half of the server's CPU in a
/// subdistrict's snapshot, issue 25). So the page's span of ids, from its first to its last, is
/// read in one range scan, each row once, as long as the rows between that are not asked for
/// stay few: once it has passed one such row per [`SKIPPED_PER_WANTED`] ids asked (at least
/// one), the scan stops and the ids not reached yet are looked up one by one. Rows read stay
/// within the ids asked and a quarter more (one more for fewer than eight).
pub fn load_placed_in_order(
    conn: &Connection,
    ids: &[Id],
) -> Result<(Vec<(PlacedRecord, usize)>, usize), StorageError> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok((Vec::new(), 0));
    };
    // Hyphenated lower-case UUIDs sort as text the way `Uuid` sorts.
    let wanted: Vec<String> = ids.iter().map(Id::to_string).collect();
    let skip_budget = (ids.len() / SKIPPED_PER_WANTED).max(1);
    let mut out = Vec::with_capacity(ids.len());
    let mut read = 0;
    let mut skipped = 0;
    let mut next = 0;
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, state, place FROM records WHERE id >= ?1 AND id <= ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![first.to_string(), last.to_string()])?;
        while next < wanted.len() {
            let Some(row) = rows.next()? else {
                // Past the last id: the ids not met have no record.
                next = wanted.len();
                break;
            };
            read += 1;
            let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            // Ids asked for that sort before this row have no record.
            while next < wanted.len() && wanted[next].as_str() < id {
                next += 1;
            }
            if next < wanted.len() && wanted[next] == id {
                out.push(placed_at(row, 1)?);
                next += 1;
            } else {
                skipped += 1;
                if skipped == skip_budget {
                    break;
                }
            }
        }
    }
    for id in &ids[next..] {
        read += 1;
        if let Some(found) = load_placed(conn, *id)? {
            out.push(found);
        }
    }
    Ok((out, read))
}

/// [`load_placed_in_order`]'s scan passes at most one row not asked for per this many ids
/// asked before it looks the rest up one by one.
pub const SKIPPED_PER_WANTED: usize = 4;

/// A record from a row of `state, place`, with the length of its state's JSON.
fn placed(row: &rusqlite::Row<'_>) -> Result<(PlacedRecord, usize), StorageError> {
    placed_at(row, 0)
}

/// [`placed`] from the columns `state, place` at `at` and `at + 1`.
fn placed_at(row: &rusqlite::Row<'_>, at: usize) -> Result<(PlacedRecord, usize), StorageError> {
    let state = row.get_ref(at)?.as_str().map_err(rusqlite::Error::from)?;
    let place: Option<String> = row.get(at + 1)?;
    Ok((
        PlacedRecord {
            state: serde_json::from_str(state)?,
            place: place.map(|p| serde_json::from_str(&p)).transpose()?,
        },
        state.len(),
    ))
}

/// What the ledger rules need to judge `state` ([`plan::ledger_of`] over the stored records).
pub fn ledger(conn: &Connection, state: &RecordState) -> Result<Ledger, StorageError> {
    plan::ledger_of(&mut SqliteFacts { conn, loaded: None }, state)
}

#[cfg(test)]
mod tests {
    use gridwork_domain::scope::Place;
    use uuid::Uuid;

    use super::*;

    fn state(id: Id) -> RecordState {
        RecordState {
            kind: EntityKind::Area,
            id,
            fields: Default::default(),
            stamps: Default::default(),
            tombstone: None,
        }
    }

    /// Stores `n` records with ascending ids, every third with a state long enough to continue
    /// on overflow pages; returns their ids.
    fn stored(conn: &Connection, n: usize) -> Vec<Id> {
        let mut ids: Vec<Id> = (0..n).map(|_| Uuid::now_v7()).collect();
        ids.sort();
        for (i, id) in ids.iter().enumerate() {
            let mut s = state(*id);
            let note = if i % 3 == 0 {
                "长".repeat(1_500)
            } else {
                format!("{i}")
            };
            s.fields
                .insert("note".into(), serde_json::Value::String(note));
            conn.execute(
                "INSERT INTO records (id, kind, state, updated_seq) VALUES (?1, 'area', ?2, 1)",
                params![id.to_string(), serde_json::to_string(&s).unwrap()],
            )
            .unwrap();
        }
        ids
    }

    fn ids_of(found: &[(PlacedRecord, usize)]) -> Vec<Id> {
        found.iter().map(|(r, _)| r.state.id).collect()
    }

    /// A page's ids close together are read in one scan of their span: each record once, in
    /// order, the rows between that were not asked for passed over, and ids without a record
    /// (one deleted, one never stored) left out.
    #[test]
    fn a_page_of_close_ids_is_read_in_one_scan_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::storage::sqlite::open::open_writer(&dir.path().join("s.db")).unwrap();
        let all = stored(&conn, 200);
        conn.execute("DELETE FROM records WHERE id = ?1", [all[50].to_string()])
            .unwrap();
        // The records of rows 10 to 189 but each tenth, and an id after every stored one.
        let mut asked: Vec<Id> = all[10..190]
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 5)
            .map(|(_, id)| *id)
            .collect();
        let expected: Vec<Id> = asked.iter().copied().filter(|id| *id != all[50]).collect();
        asked.push(Uuid::now_v7());
        let (found, read) = load_placed_in_order(&conn, &asked).unwrap();
        assert_eq!(ids_of(&found), expected);
        for (record, bytes) in &found {
            assert_eq!(*bytes, serde_json::to_string(&record.state).unwrap().len());
        }
        // The span from the first id asked to the last stored row, each read once: rows 10 to
        // 199 but the deleted one; none looked up again.
        assert_eq!(read, 189);
    }

    /// Ids far apart (one record in ten asked): the scan gives up after passing a quarter as
    /// many rows as were asked for, and the rest are looked up one by one; every record comes,
    /// in order, and rows read stay within the ids asked and a quarter more.
    #[test]
    fn ids_far_apart_are_looked_up_once_the_scan_passes_too_many() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::storage::sqlite::open::open_writer(&dir.path().join("s.db")).unwrap();
        let all = stored(&conn, 400);
        let asked: Vec<Id> = all.iter().step_by(10).copied().collect();
        let (found, read) = load_placed_in_order(&conn, &asked).unwrap();
        assert_eq!(ids_of(&found), asked);
        assert!(
            read <= asked.len() + asked.len() / SKIPPED_PER_WANTED,
            "{read}"
        );
        assert!(
            read > asked.len(),
            "some rows were passed over before giving up: {read}"
        );
        // One id: its own row. Two with a row between: the scan gives up there and looks the
        // second up.
        let (one, read) = load_placed_in_order(&conn, &[all[7]]).unwrap();
        assert_eq!(ids_of(&one), vec![all[7]]);
        assert_eq!(read, 1);
        let (two, read) = load_placed_in_order(&conn, &[all[7], all[9]]).unwrap();
        assert_eq!(ids_of(&two), vec![all[7], all[9]]);
        assert_eq!(read, 3, "7, 8 passed over, then 9 looked up");

        let (none, read) = load_placed_in_order(&conn, &[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(read, 0);
    }

    /// What the writer keeps is bounded: past its capacity the least recently used record goes,
    /// and one read since stays.
    #[test]
    fn kept_records_are_bounded_and_the_least_recently_used_goes_first() {
        let loaded = Loaded::with_capacity(2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for id in [a, b] {
            loaded.remember(&state(id), &Place::unresolved(EntityKind::Area, id));
        }
        // `a` used again: `b` is now the least recently used.
        assert!(loaded.states.borrow_mut().get(&a).is_some());
        loaded.remember(&state(c), &Place::unresolved(EntityKind::Area, c));
        assert_eq!(loaded.entries(), 4, "two states and two places");
        assert!(loaded.states.borrow_mut().get(&b).is_none(), "b went");
        assert!(loaded.states.borrow_mut().get(&a).is_some());
        assert!(loaded.states.borrow_mut().get(&c).is_some());
    }
}
