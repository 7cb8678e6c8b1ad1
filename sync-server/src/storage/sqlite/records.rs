//! Reading and writing the materialized state of records (`records` table) with their places,
//! and the case histories (`case_events`).

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::Place;
use gridwork_domain::workflow::CaseEvent;
use rusqlite::{Connection, OptionalExtension, params};

use crate::rules;
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

/// The place of `state` computed from the stored records it links to, with `extra` events
/// besides the stored ones (a case event being admitted).
pub fn compute_place(
    conn: &Connection,
    state: &RecordState,
    extra: Option<&CaseEvent>,
) -> Result<Place, StorageError> {
    let mut events = if state.kind == EntityKind::Case {
        events_of(conn, state.id)?
    } else {
        vec![]
    };
    events.extend(extra.cloned());
    let mut lookup = |id: Id| load(conn, id);
    let mut place = rules::place(state, &events, &mut lookup)?;
    if state.kind == EntityKind::Building {
        place.responders = responders_of(conn, state.id)?;
    }
    Ok(place)
}

/// The stations the alarms in `building` were dispatched to, from its cases' stored places.
pub fn responders_of(conn: &Connection, building: Id) -> Result<Vec<Id>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT place FROM records WHERE parent = ?1 AND kind = 'case' AND place IS NOT NULL",
    )?;
    let rows = stmt.query_map([building.to_string()], |r| r.get::<_, String>(0))?;
    let mut facts = Vec::new();
    for row in rows {
        let place: Place = serde_json::from_str(&row?)?;
        facts.extend(place.case);
    }
    Ok(rules::responders(&facts))
}

/// After a case's place changed (an alarm dispatched, a case moved to another building):
/// brings the building's stored responders up to date. Nothing hangs from them (they show
/// the building alone), so nothing else moves.
pub fn refresh_responders(conn: &Connection, building: Id) -> Result<(), StorageError> {
    let Some(mut place) = load_place(conn, building)? else {
        return Ok(());
    };
    if place.kind != EntityKind::Building {
        return Ok(());
    }
    let now = responders_of(conn, building)?;
    if place.responders != now {
        place.responders = now;
        set_place(conn, building, &place)?;
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

/// After `root`'s place changed: recomputes the places of everything hanging from it.
/// Returns how many records were updated.
pub fn replace_family(conn: &Connection, root: Id) -> Result<usize, StorageError> {
    let mut updated = 0;
    for member in family(conn, root)? {
        if member.state.id == root {
            continue;
        }
        let place = compute_place(conn, &member.state, None)?;
        if member.place.as_ref() != Some(&place) {
            set_place(conn, member.state.id, &place)?;
            updated += 1;
        }
    }
    Ok(updated)
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
        let place = compute_place(conn, &state, None)?;
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

/// Up to `limit` records after `after` in id order, and whether more follow.
pub fn rows(
    conn: &Connection,
    after: Option<Id>,
    limit: usize,
) -> Result<(Vec<PlacedRecord>, bool), StorageError> {
    // Hyphenated lower-case UUIDs sort as text the way `Uuid` sorts, so `after` works.
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT state, place FROM records WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let rows = stmt.query_map(params![after, limit as i64 + 1], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::with_capacity(limit.min(1024));
    let mut more = false;
    for row in rows {
        if out.len() == limit {
            more = true;
            break;
        }
        let (state, place) = row?;
        out.push(PlacedRecord {
            state: serde_json::from_str(&state)?,
            place: place.map(|p| serde_json::from_str(&p)).transpose()?,
        });
    }
    Ok((out, more))
}
