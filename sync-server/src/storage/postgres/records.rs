//! Reading and writing the materialized state of records (`records` table) with their places,
//! and the case histories (`case_events`); and [`RecordCache`]: the records one push has read,
//! through which the pure rules look records up.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::Place;
use gridwork_domain::workflow::CaseEvent;
use tokio_postgres::Row;

use crate::rules;
use crate::storage::{PlacedRecord, StorageError};

/// A record's merged state, tombstoned ones included.
pub async fn load(
    client: &impl GenericClient,
    id: Id,
) -> Result<Option<RecordState>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT state FROM records WHERE id = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    Ok(row
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)))
        .transpose()?)
}

/// A stored record's place: `None` when there is no such record; an unresolved place when it
/// has none stored.
pub async fn load_place(
    client: &impl GenericClient,
    id: Id,
) -> Result<Option<Place>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT kind, place FROM records WHERE id = $1")
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Ok(None);
    };
    match row.get::<_, Option<&str>>(1) {
        Some(json) => Ok(Some(serde_json::from_str(json)?)),
        None => Ok(EntityKind::parse(row.get(0)).map(|k| Place::unresolved(k, id))),
    }
}

/// Writes a record's merged state with its place (and the scope key and parent that follow
/// from them) and the sequence number that changed it.
pub async fn save(
    client: &impl GenericClient,
    state: &RecordState,
    place: &Place,
    seq: u64,
) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO records (id, kind, state, scope_key, updated_seq, place, parent)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                 scope_key = excluded.scope_key, updated_seq = excluded.updated_seq,
                 place = excluded.place, parent = excluded.parent",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &state.id,
                &state.kind.as_str(),
                &serde_json::to_string(state)?,
                &rules::key_of(&place.areas),
                &(seq as i64),
                &serde_json::to_string(place)?,
                &rules::parent(state),
            ],
        )
        .await?;
    Ok(())
}

/// Updates a stored record's place (and scope key) alone: a case that got an event, a
/// household whose building moved.
pub async fn set_place(
    client: &impl GenericClient,
    id: Id,
    place: &Place,
) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached("UPDATE records SET place = $2, scope_key = $3 WHERE id = $1")
        .await?;
    client
        .execute(
            &stmt,
            &[
                &id,
                &serde_json::to_string(place)?,
                &rules::key_of(&place.areas),
            ],
        )
        .await?;
    Ok(())
}

/// Every event of these cases, case by case in the order given, each case's in stamp order.
pub async fn events_of(
    client: &impl GenericClient,
    cases: &[Id],
) -> Result<Vec<CaseEvent>, StorageError> {
    if cases.is_empty() {
        return Ok(vec![]);
    }
    let stmt = client
        .prepare_cached(
            "SELECT case_id, event FROM case_events WHERE case_id = ANY($1) ORDER BY hlc, id",
        )
        .await?;
    let mut by_case: HashMap<Id, Vec<CaseEvent>> = HashMap::new();
    for row in client.query(&stmt, &[&cases]).await? {
        by_case
            .entry(row.get(0))
            .or_default()
            .push(serde_json::from_str(row.get::<_, &str>(1))?);
    }
    let mut events = Vec::new();
    for case in cases {
        events.extend(by_case.get(case).into_iter().flatten().cloned());
    }
    Ok(events)
}

/// The stations the alarms in `building` were dispatched to, from its cases' stored places.
pub async fn responders_of(
    client: &impl GenericClient,
    building: Id,
) -> Result<Vec<Id>, StorageError> {
    let stmt = client
        .prepare_cached(
            "SELECT place FROM records WHERE parent = $1 AND kind = 'case' AND place IS NOT NULL",
        )
        .await?;
    let mut facts = Vec::new();
    for row in client.query(&stmt, &[&building]).await? {
        let place: Place = serde_json::from_str(row.get::<_, &str>(0))?;
        facts.extend(place.case);
    }
    Ok(rules::responders(&facts))
}

/// After a case's place changed (an alarm dispatched, a case moved to another building):
/// brings the building's stored responders up to date. Nothing hangs from them (they show
/// the building alone), so nothing else moves.
pub async fn refresh_responders(
    client: &impl GenericClient,
    building: Id,
) -> Result<(), StorageError> {
    let Some(mut place) = load_place(client, building).await? else {
        return Ok(());
    };
    if place.kind != EntityKind::Building {
        return Ok(());
    }
    let now = responders_of(client, building).await?;
    if place.responders != now {
        place.responders = now;
        set_place(client, building, &place).await?;
    }
    Ok(())
}

fn placed(row: &Row) -> Result<PlacedRecord, StorageError> {
    Ok(PlacedRecord {
        state: serde_json::from_str(row.get::<_, &str>(0))?,
        place: row
            .get::<_, Option<&str>>(1)
            .map(serde_json::from_str)
            .transpose()?,
    })
}

/// A record and everything hanging from it, with current places, in id order.
pub async fn family(
    client: &impl GenericClient,
    root: Id,
) -> Result<Vec<PlacedRecord>, StorageError> {
    // UNION (not UNION ALL) ends a cycle of parent links; the depth bounds a broken chain.
    let stmt = client
        .prepare_cached(
            "WITH RECURSIVE fam (id, depth) AS (
                 SELECT $1::uuid, 0
                 UNION
                 SELECT r.id, fam.depth + 1 FROM records r JOIN fam ON r.parent = fam.id
                 WHERE fam.depth < 12
             )
             SELECT state, place FROM records WHERE id IN (SELECT id FROM fam) ORDER BY id",
        )
        .await?;
    client
        .query(&stmt, &[&root])
        .await?
        .iter()
        .map(placed)
        .collect()
}

/// Up to `limit` records after `after` in id order, and whether more follow.
pub async fn rows(
    client: &impl GenericClient,
    after: Option<Id>,
    limit: usize,
) -> Result<(Vec<PlacedRecord>, bool), StorageError> {
    // `uuid` sorts as `Uuid` does (byte order), so `after` works as in SQLite.
    let stmt = client
        .prepare_cached(
            "SELECT state, place FROM records WHERE ($1::uuid IS NULL OR id > $1)
             ORDER BY id LIMIT $2",
        )
        .await?;
    let rows = client.query(&stmt, &[&after, &(limit as i64 + 1)]).await?;
    let more = rows.len() > limit;
    let records = rows
        .iter()
        .take(limit)
        .map(placed)
        .collect::<Result<_, _>>()?;
    Ok((records, more))
}

/// A lookup found a record this push has not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss(pub Id);

/// The records one push transaction has read or written, as that transaction sees them (every
/// write of a state goes through [`RecordCache::save`]; the oplog lock keeps other writers out
/// meanwhile). Places are not kept here: they are read from the transaction each time.
#[derive(Debug, Default)]
pub struct RecordCache {
    seen: HashMap<Id, Option<RecordState>>,
}

impl RecordCache {
    /// A record, read once per push.
    pub async fn load(
        &mut self,
        client: &impl GenericClient,
        id: Id,
    ) -> Result<Option<RecordState>, StorageError> {
        if let Some(state) = self.seen.get(&id) {
            return Ok(state.clone());
        }
        let state = load(client, id).await?;
        self.seen.insert(id, state.clone());
        Ok(state)
    }

    /// Reads the records of `ids` in one query (those not stored are remembered as absent).
    pub async fn preload(
        &mut self,
        client: &impl GenericClient,
        ids: &[Id],
    ) -> Result<(), StorageError> {
        let stmt = client
            .prepare_cached("SELECT id, state FROM records WHERE id = ANY($1)")
            .await?;
        for row in client.query(&stmt, &[&ids]).await? {
            let state: RecordState = serde_json::from_str(row.get::<_, &str>(1))?;
            self.seen.insert(row.get(0), Some(state));
        }
        for id in ids {
            self.seen.entry(*id).or_insert(None);
        }
        Ok(())
    }

    /// Writes a record and keeps it for later lookups in the same push.
    pub async fn save(
        &mut self,
        client: &impl GenericClient,
        state: &RecordState,
        place: &Place,
        seq: u64,
    ) -> Result<(), StorageError> {
        save(client, state, place, seq).await?;
        self.seen.insert(state.id, Some(state.clone()));
        Ok(())
    }

    /// Runs a rule that looks records up ([`rules::place`], [`rules::scope_key`]) with those
    /// read so far. The rules are pure and synchronous, so a record not read yet stops the run
    /// with a [`Miss`]; it is read and the rule runs again. A chain of n links costs n reads,
    /// as a blocking lookup would, and the rule itself is the same function the SQLite backend
    /// calls.
    pub async fn resolve<T>(
        &mut self,
        client: &impl GenericClient,
        mut rule: impl FnMut(&mut dyn FnMut(Id) -> Result<Option<RecordState>, Miss>) -> Result<T, Miss>,
    ) -> Result<T, StorageError> {
        loop {
            let seen = &self.seen;
            let mut lookup = |id: Id| seen.get(&id).cloned().ok_or(Miss(id));
            match rule(&mut lookup) {
                Ok(value) => return Ok(value),
                Err(Miss(id)) => {
                    let state = load(client, id).await?;
                    self.seen.insert(id, state);
                }
            }
        }
    }

    /// The place of `state` computed from the stored records it links to, with `extra` events
    /// besides the stored ones (a case event being admitted).
    pub async fn compute_place(
        &mut self,
        client: &impl GenericClient,
        state: &RecordState,
        extra: Option<&CaseEvent>,
    ) -> Result<Place, StorageError> {
        let mut events = if state.kind == EntityKind::Case {
            events_of(client, &[state.id]).await?
        } else {
            vec![]
        };
        events.extend(extra.cloned());
        let mut place = self
            .resolve(client, |mut lookup| {
                rules::place(state, &events, &mut lookup)
            })
            .await?;
        if state.kind == EntityKind::Building {
            place.responders = responders_of(client, state.id).await?;
        }
        Ok(place)
    }

    /// After `root`'s place changed: recomputes the places of everything hanging from it.
    pub async fn replace_family(
        &mut self,
        client: &impl GenericClient,
        root: Id,
    ) -> Result<(), StorageError> {
        for member in family(client, root).await? {
            if member.state.id == root {
                continue;
            }
            let place = self.compute_place(client, &member.state, None).await?;
            if member.place.as_ref() != Some(&place) {
                set_place(client, member.state.id, &place).await?;
            }
        }
        Ok(())
    }
}
