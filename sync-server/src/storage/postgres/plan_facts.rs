//! The push planner's facts on PostgreSQL. The planner is pure and synchronous; the driver is
//! async. So a push reads ahead what the planner will most likely ask for (its operations'
//! records, the stored ids, the records above them, the cases' events) and the planner reads
//! from that ([`PgFacts`]). When it asks for something not read yet, it stops with a [`Need`];
//! the push reads it ([`PgFacts::resolve`], taking the lock the read needs) and plans that
//! operation again. A need is met once, so an operation is planned a handful of times at most,
//! and a record's whole family is read in one query when a move asks for its first children.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::scope::Place;
use gridwork_domain::workflow::{CaseEvent, Ledger};

use super::locks::{LockSet, Mode, try_lock};
use crate::rules::plan::{Facts, StoredOp};
use crate::storage::StorageError;

/// What the planner asked for that was not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Record(Id),
    Events(Id),
    StoredOp(Id),
    Children(Id),
    CasePlaces(Id),
    Guard(Id),
}

/// A stored record as read: its state and its place (`None` when stored without one).
#[derive(Debug, Clone)]
struct Row {
    /// Shared: the records a place is found through are only read ([`Facts::shared_record`]).
    state: Arc<RecordState>,
    place: Option<Place>,
}

/// What a push has read, as its transaction sees it.
#[derive(Debug, Default)]
pub struct PgFacts {
    records: HashMap<Id, Option<Row>>,
    events: HashMap<Id, Vec<CaseEvent>>,
    ops: HashMap<Id, Option<StoredOp>>,
    children: HashMap<Id, Vec<Id>>,
    case_places: HashMap<Id, Vec<(Id, Place)>>,
    /// Records held exclusively for a rule over what hangs from them ([`Facts::guard`]).
    guarded: HashSet<Id>,
}

/// Locks the push must take before it may read on: start again with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub locks: Vec<(Id, Mode)>,
}

impl Facts for PgFacts {
    type Error = Need;

    fn record(&mut self, id: Id) -> Result<Option<RecordState>, Need> {
        match self.records.get(&id) {
            Some(row) => Ok(row.as_ref().map(|r| RecordState::clone(&r.state))),
            None => Err(Need::Record(id)),
        }
    }

    fn shared_record(&mut self, id: Id) -> Result<Option<Arc<RecordState>>, Need> {
        match self.records.get(&id) {
            Some(row) => Ok(row.as_ref().map(|r| r.state.clone())),
            None => Err(Need::Record(id)),
        }
    }

    fn place(&mut self, id: Id) -> Result<Option<Place>, Need> {
        match self.records.get(&id) {
            Some(Some(row)) => Ok(Some(
                row.place
                    .clone()
                    .unwrap_or_else(|| Place::unresolved(row.state.kind, id)),
            )),
            Some(None) => Ok(None),
            None => Err(Need::Record(id)),
        }
    }

    fn events(&mut self, case: Id) -> Result<Vec<CaseEvent>, Need> {
        self.events.get(&case).cloned().ok_or(Need::Events(case))
    }

    fn stored_op(&mut self, op_id: Id) -> Result<Option<StoredOp>, Need> {
        self.ops.get(&op_id).copied().ok_or(Need::StoredOp(op_id))
    }

    fn children(&mut self, id: Id) -> Result<Vec<Id>, Need> {
        self.children.get(&id).cloned().ok_or(Need::Children(id))
    }

    fn guard(&mut self, id: Id) -> Result<(), Need> {
        if self.guarded.contains(&id) {
            Ok(())
        } else {
            Err(Need::Guard(id))
        }
    }

    fn case_places(&mut self, building: Id) -> Result<Vec<(Id, Place)>, Need> {
        self.case_places
            .get(&building)
            .cloned()
            .ok_or(Need::CasePlaces(building))
    }
}

/// A lock set that holds what `need` would lock, so that resolving it reads without locking.
fn everything_held(need: Need) -> LockSet {
    let mut held = LockSet::default();
    if let Need::Record(id) | Need::CasePlaces(id) | Need::Guard(id) = need {
        held.add(id, Mode::Exclusive);
    }
    held
}

/// The ids an operation's fields link to (a household's building, a case's area...): the
/// records its new place will be computed from.
fn links(op: &Op) -> impl Iterator<Item = Id> + '_ {
    let fields = match &op.body {
        OpBody::Set { fields } => Some(fields),
        _ => None,
    };
    fields
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.ends_with("_id"))
        .filter_map(|(_, write)| write.value.as_str().and_then(|s| s.parse().ok()))
}

impl PgFacts {
    /// Reads ahead for a batch, with `held` the locks taken at the start: the stored ids, the
    /// records of the operations, the records above them (along their stored links and the
    /// links their fields set), the events of their cases. The records above are read, locked
    /// shared, and read again (a move committed between the read and the lock would otherwise
    /// be missed). `Err(Retry)` when one of those locks is held by another push.
    pub async fn read_ahead(
        client: &impl GenericClient,
        ops: &[&Op],
        held: &mut LockSet,
    ) -> Result<Result<PgFacts, Retry>, StorageError> {
        let mut facts = PgFacts::default();
        let op_ids: Vec<Id> = ops.iter().map(|o| o.id).collect();
        let entities: Vec<Id> = ops.iter().map(|o| o.entity_id).collect();
        let cases: Vec<Id> = ops
            .iter()
            .filter(|o| o.entity == EntityKind::Case)
            .map(|o| o.entity_id)
            .collect();
        let seeds: Vec<Id> = entities
            .iter()
            .copied()
            .chain(ops.iter().flat_map(|op| links(op)))
            .collect();
        // Sent together: their round trips overlap.
        let (stored, records, events, chains) = tokio::try_join!(
            fetch_ops(client, &op_ids),
            fetch_records(client, &entities),
            fetch_events(client, &cases),
            read_chains(client, &seeds),
        )?;
        facts.absorb_ops(&op_ids, stored);
        facts.absorb_records(&entities, records)?;
        facts.absorb_events(&cases, events)?;
        let own: HashSet<Id> = entities.iter().copied().collect();
        let above: Vec<Id> = chains.into_iter().filter(|id| !own.contains(id)).collect();
        let unlocked: Vec<Id> = above
            .iter()
            .copied()
            .filter(|id| !held.holds(*id, Mode::Shared))
            .collect();
        let refused = try_lock(client, &unlocked, Mode::Shared).await?;
        if !refused.is_empty() {
            return Ok(Err(Retry {
                locks: refused.into_iter().map(|id| (id, Mode::Shared)).collect(),
            }));
        }
        for id in &unlocked {
            held.add(*id, Mode::Shared);
        }
        facts.read_records(client, &above).await?;
        // A new record is checked for records that arrived before it and hang from it (the
        // planner places them anew): one query for all of the batch's new records.
        let new: Vec<Id> = entities
            .iter()
            .copied()
            .filter(|id| matches!(facts.records.get(id), Some(None)))
            .collect();
        facts.read_families(client, &new).await?;
        Ok(Ok(facts))
    }

    /// Reads what the planner asked for, after taking the lock that read needs. `Err(Retry)`
    /// when another push holds it.
    pub async fn resolve(
        &mut self,
        client: &impl GenericClient,
        need: Need,
        held: &mut LockSet,
    ) -> Result<Result<(), Retry>, StorageError> {
        // A record read to place another must not change before the push commits; a building
        // whose responders may be rewritten is written.
        let lock = match need {
            Need::Record(id) => Some((id, Mode::Shared)),
            Need::CasePlaces(building) | Need::Guard(building) => Some((building, Mode::Exclusive)),
            Need::Events(_) | Need::StoredOp(_) | Need::Children(_) => None,
        };
        if let Some((id, mode)) = lock
            && !held.holds(id, mode)
        {
            if !try_lock(client, &[id], mode).await?.is_empty() {
                return Ok(Err(Retry {
                    locks: vec![(id, mode)],
                }));
            }
            held.add(id, mode);
        }
        match need {
            Need::Record(id) => self.read_records(client, &[id]).await?,
            Need::Events(case) => self.read_events(client, &[case]).await?,
            Need::StoredOp(op) => self.read_ops(client, &[op]).await?,
            Need::Children(root) => self.read_families(client, &[root]).await?,
            Need::CasePlaces(building) => self.read_case_places(client, building).await?,
            Need::Guard(id) => {
                self.guarded.insert(id);
            }
        }
        Ok(Ok(()))
    }

    /// After a push wrote a record: keeps its new state and place, and forgets what its write
    /// may have changed (the children of its old and new parent, its building's cases, its
    /// events), to be read again from the transaction, which sees its own writes.
    pub fn wrote(&mut self, state: Option<&RecordState>, id: Id, place: &Place) {
        let old_parent = self
            .records
            .get(&id)
            .and_then(|r| r.as_ref())
            .and_then(|r| crate::rules::parent(&r.state));
        if let Some(state) = state {
            let new_parent = crate::rules::parent(state);
            if old_parent != new_parent {
                for parent in [old_parent, new_parent].into_iter().flatten() {
                    self.children.remove(&parent);
                    self.case_places.remove(&parent);
                }
            }
            self.records.insert(
                id,
                Some(Row {
                    state: Arc::new(state.clone()),
                    place: Some(place.clone()),
                }),
            );
        } else if let Some(Some(row)) = self.records.get_mut(&id) {
            row.place = Some(place.clone());
        }
        if place.kind == EntityKind::Case {
            // Its building's list of case places holds its old place.
            for parent in old_parent.into_iter().chain(place.building) {
                self.case_places.remove(&parent);
            }
            self.events.remove(&id);
        }
    }

    /// What the ledger rules need to judge `state`, read outside a push (for tools and checks:
    /// no lock is kept).
    pub async fn ledger(
        client: &impl GenericClient,
        state: &RecordState,
    ) -> Result<Ledger, StorageError> {
        let mut facts = PgFacts::default();
        loop {
            match crate::rules::plan::ledger_of(&mut facts, state) {
                Ok(ledger) => return Ok(ledger),
                Err(Need::Guard(id)) => {
                    facts.guarded.insert(id);
                }
                Err(need) => {
                    // Outside a transaction a lock taken by a read ends with its statement.
                    let mut held = LockSet::default();
                    if facts.resolve(client, need, &mut held).await?.is_err() {
                        // Someone writes the record now: read it anyway, as it stands.
                        facts
                            .resolve(client, need, &mut everything_held(need))
                            .await?
                            .ok();
                    }
                }
            }
        }
    }

    /// After a push stored an operation.
    pub fn stored(&mut self, op_id: Id, stored: StoredOp) {
        self.ops.insert(op_id, Some(stored));
    }

    async fn read_records(
        &mut self,
        client: &impl GenericClient,
        ids: &[Id],
    ) -> Result<(), StorageError> {
        let rows = fetch_records(client, ids).await?;
        self.absorb_records(ids, rows)
    }

    fn absorb_records(
        &mut self,
        ids: &[Id],
        rows: Vec<tokio_postgres::Row>,
    ) -> Result<(), StorageError> {
        let mut found = HashSet::new();
        for row in rows {
            let id: Id = row.get(0);
            found.insert(id);
            self.records.insert(
                id,
                Some(Row {
                    state: Arc::new(serde_json::from_str(row.get::<_, &str>(1))?),
                    place: row
                        .get::<_, Option<&str>>(2)
                        .map(serde_json::from_str)
                        .transpose()?,
                }),
            );
        }
        for id in ids {
            if !found.contains(id) {
                self.records.insert(*id, None);
            }
        }
        Ok(())
    }

    async fn read_events(
        &mut self,
        client: &impl GenericClient,
        cases: &[Id],
    ) -> Result<(), StorageError> {
        let rows = fetch_events(client, cases).await?;
        self.absorb_events(cases, rows)
    }

    fn absorb_events(
        &mut self,
        cases: &[Id],
        rows: Vec<tokio_postgres::Row>,
    ) -> Result<(), StorageError> {
        for case in cases {
            self.events.insert(*case, vec![]);
        }
        for row in rows {
            let case: Id = row.get(0);
            let event: CaseEvent = serde_json::from_str(row.get::<_, &str>(1))?;
            self.events.entry(case).or_default().push(event);
        }
        Ok(())
    }

    async fn read_ops(
        &mut self,
        client: &impl GenericClient,
        op_ids: &[Id],
    ) -> Result<(), StorageError> {
        let rows = fetch_ops(client, op_ids).await?;
        self.absorb_ops(op_ids, rows);
        Ok(())
    }

    fn absorb_ops(&mut self, op_ids: &[Id], rows: Vec<tokio_postgres::Row>) {
        for id in op_ids {
            self.ops.insert(*id, None);
        }
        for row in rows {
            self.ops.insert(
                row.get(0),
                Some(StoredOp {
                    seq: row.get::<_, i64>(1) as u64,
                    device: row.get(2),
                }),
            );
        }
    }

    /// Reads the whole families of `roots` in one query: every member's state and place, and
    /// the children of each (none for the leaves).
    async fn read_families(
        &mut self,
        client: &impl GenericClient,
        roots: &[Id],
    ) -> Result<(), StorageError> {
        if roots.is_empty() {
            return Ok(());
        }
        // UNION (not UNION ALL) ends a cycle of parent links; the depth bounds a broken chain.
        let stmt = client
            .prepare_cached(
                "WITH RECURSIVE fam (id, depth) AS (
                     SELECT unnest($1::uuid[]), 0
                     UNION
                     SELECT r.id, fam.depth + 1 FROM records r JOIN fam ON r.parent = fam.id
                     WHERE fam.depth < 12
                 )
                 SELECT r.id, r.state, r.place, r.parent FROM records r
                 WHERE r.id IN (SELECT id FROM fam)",
            )
            .await?;
        let rows = client.query(&stmt, &[&roots]).await?;
        let mut members: HashSet<Id> = roots.iter().copied().collect();
        let mut children: HashMap<Id, Vec<Id>> = HashMap::new();
        for row in &rows {
            let id: Id = row.get(0);
            members.insert(id);
            if let Some(parent) = row.get::<_, Option<Id>>(3)
                && !roots.contains(&id)
            {
                children.entry(parent).or_default().push(id);
            }
            // What this push already holds of a record is as new as the table (it reads its
            // own writes); keep it.
            if let std::collections::hash_map::Entry::Vacant(slot) = self.records.entry(id) {
                slot.insert(Some(Row {
                    state: Arc::new(serde_json::from_str(row.get::<_, &str>(1))?),
                    place: row
                        .get::<_, Option<&str>>(2)
                        .map(serde_json::from_str)
                        .transpose()?,
                }));
            }
        }
        for member in members {
            self.children
                .insert(member, children.remove(&member).unwrap_or_default());
        }
        Ok(())
    }

    async fn read_case_places(
        &mut self,
        client: &impl GenericClient,
        building: Id,
    ) -> Result<(), StorageError> {
        let stmt = client
            .prepare_cached(
                "SELECT id, place FROM records
                 WHERE parent = $1 AND kind = 'case' AND place IS NOT NULL",
            )
            .await?;
        let mut places = Vec::new();
        for row in client.query(&stmt, &[&building]).await? {
            places.push((row.get(0), serde_json::from_str(row.get::<_, &str>(1))?));
        }
        self.case_places.insert(building, places);
        Ok(())
    }
}

async fn fetch_records(
    client: &impl GenericClient,
    ids: &[Id],
) -> Result<Vec<tokio_postgres::Row>, StorageError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let stmt = client
        .prepare_cached("SELECT id, state, place FROM records WHERE id = ANY($1)")
        .await?;
    Ok(client.query(&stmt, &[&ids]).await?)
}

async fn fetch_events(
    client: &impl GenericClient,
    cases: &[Id],
) -> Result<Vec<tokio_postgres::Row>, StorageError> {
    if cases.is_empty() {
        return Ok(vec![]);
    }
    let stmt = client
        .prepare_cached(
            "SELECT case_id, event FROM case_events WHERE case_id = ANY($1) ORDER BY hlc, id",
        )
        .await?;
    Ok(client.query(&stmt, &[&cases]).await?)
}

async fn fetch_ops(
    client: &impl GenericClient,
    op_ids: &[Id],
) -> Result<Vec<tokio_postgres::Row>, StorageError> {
    if op_ids.is_empty() {
        return Ok(vec![]);
    }
    let stmt = client
        .prepare_cached("SELECT op_id, seq, device_id FROM ops WHERE op_id = ANY($1)")
        .await?;
    Ok(client.query(&stmt, &[&op_ids]).await?)
}

/// `seeds` and the ids above them along stored parent links, each once, in id order.
async fn read_chains(client: &impl GenericClient, seeds: &[Id]) -> Result<Vec<Id>, StorageError> {
    if seeds.is_empty() {
        return Ok(vec![]);
    }
    // UNION ends a cycle of links.
    let stmt = client
        .prepare_cached(
            "WITH RECURSIVE up (id) AS (
                 SELECT unnest($1::uuid[])
                 UNION
                 SELECT r.parent FROM records r JOIN up ON r.id = up.id
                 WHERE r.parent IS NOT NULL
             )
             SELECT id FROM up",
        )
        .await?;
    let rows = client.query(&stmt, &[&seeds]).await?;
    let mut ids: Vec<Id> = rows.iter().map(|r| r.get::<_, Id>(0)).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}
