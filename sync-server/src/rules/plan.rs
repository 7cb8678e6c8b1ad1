//! The push planner: every decision a push makes about one operation, as one pure function
//! ([`plan`]) over what the storage holds ([`Facts`]). Each storage backend only reads the facts
//! it is asked for and writes what the plan says, so a rule of the push (admission, the
//! duplicate check, where a record sits, who must see it, what moves with it) changes in one
//! place and the SQLite and PostgreSQL backends cannot drift apart.
//!
//! For one operation, in order (later operations of a batch see earlier ones' writes, because
//! the backend writes each plan before planning the next):
//! 1. [`check_author`]: an operation stamped by another device is refused;
//! 2. an operation id already stored: a [`Decision::Duplicate`] when this device stored it,
//!    refused when another device did (its edit is not silently dropped as stored);
//! 3. [`admit`] against the record's stored state;
//! 4. the record's place after the operation ([`locate`](gridwork_domain::scope::locate)) and
//!    [`authorize`] of the change from its place before;
//! 5. what else moves: the responders of the buildings a case left or entered, and, when the
//!    record moved (or was created after records that hang from it), the places of everything
//!    hanging from it;
//! 6. the buckets the operation is filed under ([`filed_under_move`]): readers of the record's
//!    place before and after it.
//!
//! The backend then stores the operation (with the next sequence number, its place, prior place
//! and buckets), saves the merged record, adds the case event, and writes every changed place
//! with the record's buckets ([`Store::record_buckets`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{Entity, Household, Registration, Resident};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::scope::{
    Bucket, Decision as ScopeDecision, Place, ScopeView, decide_tenant, filed_under,
    filed_under_move,
};
use gridwork_domain::sync::{PushOutcome, RejectCode, Role};
use gridwork_domain::workflow::{CaseEvent, Ledger};

use super::admit::{
    Admitted, PushContext, Rejection, admit, check_author, check_ledger, needs_ledger,
};
use super::authorize::authorize;
use super::{case_buildings, moved, parent, place as locate, responders};

/// The deepest chain of records hanging from one another that a move follows (the area tree
/// has six levels, registration → household → building → grid adds three); anything deeper is
/// a cycle of links.
const MAX_FAMILY_DEPTH: usize = 12;

/// An operation already in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredOp {
    pub seq: u64,
    /// The device that pushed it.
    pub device: DeviceId,
}

/// What the planner reads, as the push's transaction sees it (the batch's earlier operations
/// included). Backends answer from their tables; one whose reads are asynchronous answers from
/// what it has read so far and returns an error naming what it lacks, then plans again once it
/// has read it (see `storage/postgres/plan_facts.rs`).
pub trait Facts {
    type Error;
    /// A record's merged state, tombstoned ones included.
    fn record(&mut self, id: Id) -> Result<Option<RecordState>, Self::Error>;
    /// The same, shared rather than copied: for the records a place is found through (a
    /// household's building, a building's grid and the areas above it), which are only read.
    /// A backend that keeps records answers without copying one (SQLite's writer keeps them
    /// from group to group: copying a building or an area, field by field, for every operation
    /// placed through it was a tenth of its thread, ADR 0048).
    fn shared_record(&mut self, id: Id) -> Result<Option<Arc<RecordState>>, Self::Error> {
        Ok(self.record(id)?.map(Arc::new))
    }
    /// A record's stored place: `None` for an unknown record, an unresolved place for one
    /// stored without one.
    fn place(&mut self, id: Id) -> Result<Option<Place>, Self::Error>;
    /// A case's stored events, in stamp order.
    fn events(&mut self, case: Id) -> Result<Vec<CaseEvent>, Self::Error>;
    /// The operation stored under this id, if any.
    fn stored_op(&mut self, op_id: Id) -> Result<Option<StoredOp>, Self::Error>;
    /// The records whose [`parent`] is `id`.
    fn children(&mut self, id: Id) -> Result<Vec<Id>, Self::Error>;
    /// The stored places of the cases whose parent is `building` (their facts say which
    /// stations its alarms went to).
    fn case_places(&mut self, building: Id) -> Result<Vec<(Id, Place)>, Self::Error>;
    /// The decision being planned depends on everything hanging from `id` (the units of a
    /// building, a tenant's stays): a backend whose pushes run at once holds `id` exclusively
    /// until the push commits, so two pushes cannot both pass a rule only one may.
    fn guard(&mut self, id: Id) -> Result<(), Self::Error>;
}

/// What to do with one operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Refused; nothing stored.
    Rejected(Rejection),
    /// Already stored by this device with this sequence number; nothing stored.
    Duplicate { seq: u64 },
    /// Store it.
    Store(Box<Store>),
}

impl Decision {
    /// The answer for an operation that is not stored (`Ok`), or what to store (`Err`), whose
    /// answer is `accepted` with the sequence number the backend gives it.
    pub fn settled(self) -> Result<PushOutcome, Box<Store>> {
        match self {
            Decision::Rejected(r) => Ok(PushOutcome::Rejected {
                code: r.code,
                message: r.message,
            }),
            Decision::Duplicate { seq } => Ok(PushOutcome::Duplicate { seq }),
            Decision::Store(store) => Err(store),
        }
    }
}

/// Everything a backend writes for one admitted operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Store {
    /// The record's place once the operation is applied (for a case event, the case's).
    pub place: Place,
    /// Its place before (`None`: the operation created it).
    pub prior: Option<Place>,
    /// The record's merged state to save (a set, a delete, or the empty case an event arrived
    /// before); `None` for an event on a stored case.
    pub record: Option<RecordState>,
    /// The case event to add by union on its id.
    pub event: Option<CaseEvent>,
    /// Other stored places that change (buildings whose responders changed, everything hanging
    /// from a moved record, the case itself when only its place changed), in the order found.
    pub replaced: Vec<Replaced>,
    /// The buckets the operation is filed under, sorted.
    pub buckets: Vec<Bucket>,
}

/// A stored place that changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Replaced {
    pub id: Id,
    pub before: Option<Place>,
    pub after: Place,
}

/// The change to one record's bucket index rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketChange {
    pub id: Id,
    pub remove: Vec<Bucket>,
    pub add: Vec<Bucket>,
}

impl BucketChange {
    /// The rows to change when a record's place goes from `before` to `after`.
    pub fn between(id: Id, before: Option<&Place>, after: &Place) -> BucketChange {
        let old = before.map(filed_under).unwrap_or_default();
        let new = filed_under(after);
        BucketChange {
            id,
            remove: old.iter().filter(|b| !new.contains(b)).copied().collect(),
            add: new.iter().filter(|b| !old.contains(b)).copied().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }
}

impl Store {
    /// Whether the record's own stored place changes without a new state (an event moved its
    /// case, or gave it facts).
    pub fn place_only(&self) -> bool {
        self.record.is_none() && self.prior.as_ref() != Some(&self.place)
    }

    /// Every record whose stored place this plan writes, with its place before and after: the
    /// operation's record (when saved or re-placed) and the [`Store::replaced`] ones.
    pub fn places_written(&self, entity: Id) -> Vec<(Id, Option<&Place>, &Place)> {
        let mut out = Vec::with_capacity(1 + self.replaced.len());
        if self.record.is_some() || self.place_only() {
            out.push((entity, self.prior.as_ref(), &self.place));
        }
        out.extend(
            self.replaced
                .iter()
                .map(|r| (r.id, r.before.as_ref(), &r.after)),
        );
        out
    }

    /// The bucket index rows of records to change, for every place written.
    pub fn record_buckets(&self, entity: Id) -> Vec<BucketChange> {
        self.places_written(entity)
            .into_iter()
            .map(|(id, before, after)| BucketChange::between(id, before, after))
            .filter(|c| !c.is_empty())
            .collect()
    }
}

/// Decides one operation pushed in `ctx` against `facts`. Pure: it only reads through `facts`,
/// so a backend may run it again after reading what an error said was missing.
pub fn plan<F: Facts>(ctx: &PushContext, op: &Op, facts: &mut F) -> Result<Decision, F::Error> {
    if let Err(r) = check_author(op, ctx) {
        return Ok(Decision::Rejected(r));
    }
    if let Some(stored) = facts.stored_op(op.id)? {
        if stored.device == ctx.device {
            return Ok(Decision::Duplicate { seq: stored.seq });
        }
        // Answering "duplicate" would tell the device its edit is stored when it is not.
        return Ok(Decision::Rejected(Rejection::new(
            RejectCode::Malformed,
            "this operation id is already used by another device's change; \
             the change was not stored",
        )));
    }
    let current = facts.record(op.entity_id)?;
    let prior = facts.place(op.entity_id)?;
    let (record, event) = match admit(op, ctx, current) {
        Ok(Admitted::Record(state)) => (Some(state), None),
        Ok(Admitted::Event { event, new_case }) => (new_case, Some(event)),
        Err(r) => return Ok(Decision::Rejected(r)),
    };
    let mut pending = Pending::default();
    if let Some(state) = &record {
        pending.records.insert(state.id, state.clone());
    }
    if let Some(e) = &event {
        pending.extra_event = Some((e.case_id, e.clone()));
    }
    // Where the record sits once the operation is applied; a case event places its case.
    let place = match pending.record(facts, op.entity_id)? {
        Some(state) => place_of(facts, &mut pending, &state)?,
        None => Place::unresolved(op.entity, op.entity_id),
    };
    if let Err(r) = authorize(&ctx.view, op, prior.as_ref(), &place) {
        return Ok(Decision::Rejected(r));
    }
    // A building head checks in only residents of its own building's households.
    if let Some(state) = &record
        && writes_tenant(op)
        && let Err(r) = check_tenant(facts, &ctx.view, state)?
    {
        return Ok(Decision::Rejected(r));
    }
    // One household per unit of a building, one open stay per tenant in their own room: judged
    // against what the server holds, in the order changes reach it.
    if needs_ledger(op)
        && let Some(state) = &record
    {
        let ledger = ledger_of(facts, state)?;
        if let Err(r) = check_ledger(state, &ledger) {
            return Ok(Decision::Rejected(r));
        }
    }
    pending.places.insert(op.entity_id, place.clone());
    let mut replaced = Vec::new();
    // A case placed anew (an alarm dispatched, a case moved between buildings) changes which
    // crews see its building(s).
    if op.entity == EntityKind::Case && prior.as_ref() != Some(&place) {
        for building in case_buildings(prior.as_ref(), &place) {
            let Some(mut now) = pending.place(facts, building)? else {
                continue;
            };
            if now.kind != EntityKind::Building {
                continue;
            }
            let before = now.clone();
            now.responders = responders_of(facts, &pending, building)?;
            if now != before {
                pending.places.insert(building, now.clone());
                replaced.push(Replaced {
                    id: building,
                    before: Some(before),
                    after: now,
                });
            }
        }
    }
    // A record that moved (another grid, another station) takes everything hanging from it
    // along. So does a new record that others arrived before.
    if prior.as_ref().is_none_or(|p| moved(p, &place)) {
        for member in family(facts, op.entity_id)? {
            let Some(state) = pending.record(facts, member)? else {
                continue;
            };
            let before = pending.place(facts, member)?;
            let after = place_of(facts, &mut pending, &state)?;
            if before.as_ref() != Some(&after) {
                pending.places.insert(member, after.clone());
                replaced.push(Replaced {
                    id: member,
                    before,
                    after,
                });
            }
        }
    }
    let buckets = filed_under_move(&place, prior.as_ref());
    Ok(Decision::Store(Box::new(Store {
        place,
        prior,
        record,
        event,
        replaced,
        buckets,
    })))
}

/// What the tenant ledger rules ([`check_ledger`]) need to judge `state`, a household or a
/// stay, from what `facts` holds: the live households of its building, or the stay's room,
/// tenant and the tenant's live stays under their household and the room. The building (for a
/// household) or the tenant (for a stay) is [guarded](Facts::guard).
pub fn ledger_of<F: Facts>(facts: &mut F, state: &RecordState) -> Result<Ledger, F::Error> {
    let mut ledger = Ledger::default();
    match state.kind {
        EntityKind::Household => {
            if let Some(building) = parent(state) {
                facts.guard(building)?;
                ledger.households = live_children(facts, building, EntityKind::Household)?;
            }
        }
        EntityKind::Registration => {
            let Ok(stay) = state.decode::<Registration>() else {
                return Ok(ledger);
            };
            facts.guard(stay.resident_id)?;
            ledger.room = live_as(facts, stay.household_id)?;
            ledger.tenant = live_as::<Resident, F>(facts, stay.resident_id)?;
            let mut rooms = vec![stay.household_id];
            rooms.extend(ledger.tenant.as_ref().map(|t| t.household_id));
            rooms.dedup();
            for room in rooms {
                let stays: Vec<Registration> =
                    live_children(facts, room, EntityKind::Registration)?;
                ledger.stays.extend(
                    stays
                        .into_iter()
                        .filter(|r| r.resident_id == stay.resident_id),
                );
            }
        }
        _ => {}
    }
    Ok(ledger)
}

/// Whether `op` sets who a stay is for or where (a check-in writes both).
fn writes_tenant(op: &Op) -> bool {
    op.entity == EntityKind::Registration
        && matches!(&op.body, OpBody::Set { fields }
            if fields.contains_key("resident_id") || fields.contains_key("household_id"))
}

/// Judges a stay's tenant by [`decide_tenant`]: the building of the tenant's own household,
/// from what `facts` holds (unknown when the tenant or the household is not stored).
pub fn check_tenant<F: Facts>(
    facts: &mut F,
    view: &ScopeView,
    state: &RecordState,
) -> Result<Result<(), Rejection>, F::Error> {
    if view.role != Role::BuildingHead || state.is_deleted() {
        return Ok(Ok(()));
    }
    let Ok(stay) = state.decode::<Registration>() else {
        return Ok(Ok(()));
    };
    let building = match live_as::<Resident, F>(facts, stay.resident_id)? {
        Some(tenant) => live_as::<Household, F>(facts, tenant.household_id)?.map(|h| h.building_id),
        None => None,
    };
    Ok(match decide_tenant(view, building) {
        ScopeDecision::Allow => Ok(()),
        ScopeDecision::Deny(why) => Err(Rejection::new(RejectCode::Forbidden, why)),
    })
}

/// A live record as its model type (`None` when absent, deleted, of another kind or
/// incomplete).
fn live_as<T: Entity, F: Facts>(facts: &mut F, id: Id) -> Result<Option<T>, F::Error> {
    Ok(facts
        .record(id)?
        .filter(|s| !s.is_deleted() && s.kind == T::KIND)
        .and_then(|s| s.decode().ok()))
}

/// The live records of `kind` hanging from `parent`, as their model type.
fn live_children<T: Entity, F: Facts>(
    facts: &mut F,
    parent: Id,
    kind: EntityKind,
) -> Result<Vec<T>, F::Error> {
    let mut out = Vec::new();
    for child in facts.children(parent)? {
        if let Some(record) = facts.record(child)?.filter(|s| s.kind == kind)
            && let Some(record) = live_as(facts, record.id)?
        {
            out.push(record);
        }
    }
    Ok(out)
}

/// The place of a stored record from what `facts` holds: for upgrades that compute the places
/// an older database lacks, and for checks.
pub fn place_now<F: Facts>(facts: &mut F, state: &RecordState) -> Result<Place, F::Error> {
    place_of(facts, &mut Pending::default(), state)
}

/// What this operation's plan has decided so far, seen before the stored facts.
#[derive(Default)]
struct Pending {
    records: HashMap<Id, RecordState>,
    places: HashMap<Id, Place>,
    /// The event being admitted, with its case.
    extra_event: Option<(Id, CaseEvent)>,
}

impl Pending {
    fn record<F: Facts>(&self, facts: &mut F, id: Id) -> Result<Option<RecordState>, F::Error> {
        match self.records.get(&id) {
            Some(state) => Ok(Some(state.clone())),
            None => facts.record(id),
        }
    }

    fn place<F: Facts>(&self, facts: &mut F, id: Id) -> Result<Option<Place>, F::Error> {
        match self.places.get(&id) {
            Some(place) => Ok(Some(place.clone())),
            None => facts.place(id),
        }
    }
}

/// The place of `state` from the records it links to (as pending or stored), its case events
/// (stored, and the one being admitted) and, for a building, its cases' responders.
fn place_of<F: Facts>(
    facts: &mut F,
    pending: &mut Pending,
    state: &RecordState,
) -> Result<Place, F::Error> {
    let mut events = if state.kind == EntityKind::Case {
        facts.events(state.id)?
    } else {
        vec![]
    };
    if let Some((case, event)) = &pending.extra_event
        && *case == state.id
    {
        events.push(event.clone());
    }
    let records = &pending.records;
    let mut lookup = |id: Id| match records.get(&id) {
        Some(state) => Ok(Some(Seen::Pending(state))),
        None => Ok(facts.shared_record(id)?.map(Seen::Stored)),
    };
    let mut place = locate(state, &events, &mut lookup)?;
    if state.kind == EntityKind::Building {
        place.responders = responders_of(facts, pending, state.id)?;
    }
    Ok(place)
}

/// A record a place is found through: decided by this plan, or stored (shared, not copied).
enum Seen<'a> {
    Pending(&'a RecordState),
    Stored(Arc<RecordState>),
}

impl std::borrow::Borrow<RecordState> for Seen<'_> {
    fn borrow(&self) -> &RecordState {
        match self {
            Seen::Pending(state) => state,
            Seen::Stored(state) => state,
        }
    }
}

/// The stations the alarms in `building` were dispatched to, from its cases' places (as
/// pending or stored).
fn responders_of<F: Facts>(
    facts: &mut F,
    pending: &Pending,
    building: Id,
) -> Result<Vec<Id>, F::Error> {
    let mut cases: BTreeMap<Id, Place> = facts.case_places(building)?.into_iter().collect();
    for (id, place) in &pending.places {
        if place.kind != EntityKind::Case {
            continue;
        }
        if place.building == Some(building) {
            cases.insert(*id, place.clone());
        } else {
            // A case this operation moved out of the building.
            cases.remove(id);
        }
    }
    let case_facts: Vec<_> = cases.values().filter_map(|p| p.case.clone()).collect();
    Ok(responders(&case_facts))
}

/// Everything hanging from `root` (children, their children...), root excluded, each once,
/// parents before children.
fn family<F: Facts>(facts: &mut F, root: Id) -> Result<Vec<Id>, F::Error> {
    let mut out = Vec::new();
    let mut level = vec![root];
    let mut seen = std::collections::HashSet::from([root]);
    for _ in 0..MAX_FAMILY_DEPTH {
        let mut next = Vec::new();
        for id in level {
            for child in facts.children(id)? {
                if seen.insert(child) {
                    next.push(child);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        out.extend(next.iter().copied());
        level = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use gridwork_domain::hlc::{Hlc, Stamp};
    use gridwork_domain::op::{FieldWrite, OpBody};
    use gridwork_domain::scope::ScopeView;
    use gridwork_domain::sync::Role;
    use gridwork_domain::workflow::CaseAction;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    const NOW: u64 = 1_795_395_600_000;

    /// A storage in memory: what the planner reads, and the writes of each plan applied the way
    /// a backend applies them.
    #[derive(Default)]
    struct Memory {
        records: HashMap<Id, RecordState>,
        places: HashMap<Id, Place>,
        events: HashMap<Id, Vec<CaseEvent>>,
        ops: HashMap<Id, StoredOp>,
        seq: u64,
    }

    impl Facts for Memory {
        type Error = Infallible;
        fn record(&mut self, id: Id) -> Result<Option<RecordState>, Infallible> {
            Ok(self.records.get(&id).cloned())
        }
        fn place(&mut self, id: Id) -> Result<Option<Place>, Infallible> {
            Ok(self.places.get(&id).cloned())
        }
        fn events(&mut self, case: Id) -> Result<Vec<CaseEvent>, Infallible> {
            Ok(self.events.get(&case).cloned().unwrap_or_default())
        }
        fn stored_op(&mut self, op_id: Id) -> Result<Option<StoredOp>, Infallible> {
            Ok(self.ops.get(&op_id).copied())
        }
        fn children(&mut self, id: Id) -> Result<Vec<Id>, Infallible> {
            Ok(self
                .records
                .values()
                .filter(|r| parent(r) == Some(id))
                .map(|r| r.id)
                .collect())
        }
        fn case_places(&mut self, building: Id) -> Result<Vec<(Id, Place)>, Infallible> {
            Ok(self
                .records
                .values()
                .filter(|r| r.kind == EntityKind::Case && parent(r) == Some(building))
                .filter_map(|r| self.places.get(&r.id).map(|p| (r.id, p.clone())))
                .collect())
        }
        fn guard(&mut self, _: Id) -> Result<(), Infallible> {
            Ok(())
        }
    }

    impl Memory {
        fn push(&mut self, ctx: &PushContext, op: &Op) -> Decision {
            let Ok(decision) = plan(ctx, op, self);
            if let Decision::Store(store) = &decision {
                self.seq += 1;
                self.ops.insert(
                    op.id,
                    StoredOp {
                        seq: self.seq,
                        device: op.stamp.device,
                    },
                );
                if let Some(state) = &store.record {
                    self.records.insert(state.id, state.clone());
                }
                if let Some(e) = &store.event {
                    self.events.entry(e.case_id).or_default().push(e.clone());
                }
                for (id, _, after) in store.places_written(op.entity_id) {
                    self.places.insert(id, after.clone());
                }
            }
            decision
        }
    }

    fn admin(device: DeviceId) -> PushContext {
        PushContext {
            device,
            user: Uuid::now_v7(),
            view: ScopeView::new(Role::Admin, vec![], vec![]),
            now_ms: NOW,
        }
    }

    /// Each operation a later stamp than the last, as one device's clock gives them.
    fn tick() -> Hlc {
        static COUNTER: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        Hlc::new(
            NOW,
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }

    fn set(device: DeviceId, kind: EntityKind, id: Id, fields: serde_json::Value) -> Op {
        let fields = FieldWrite::first_writes(fields.as_object().unwrap());
        Op {
            id: Uuid::now_v7(),
            stamp: Stamp::new(tick(), device),
            entity: kind,
            entity_id: id,
            body: OpBody::Set { fields },
        }
    }

    fn stored(d: Decision) -> Store {
        match d {
            Decision::Store(s) => *s,
            other => panic!("not stored: {other:?}"),
        }
    }

    /// A district with two grids, a station, a building in grid A with a household.
    struct Town {
        device: DeviceId,
        grid_a: Id,
        grid_b: Id,
        station: Id,
        building: Id,
        household: Id,
        mem: Memory,
    }

    fn town() -> Town {
        let device = Uuid::now_v7();
        let ctx = admin(device);
        let mut mem = Memory::default();
        let n = Uuid::now_v7;
        let (district, grid_a, grid_b, station, building, household) =
            (n(), n(), n(), n(), n(), n());
        let area = |id, parent: Option<Id>, name: &str, code: &str| {
            set(
                device,
                EntityKind::Area,
                id,
                json!({ "name": name, "level": if parent.is_some() { "grid" } else { "district" },
                        "code": code, "parent_id": parent }),
            )
        };
        for op in [
            area(district, None, "西湖区", "330106"),
            area(grid_a, Some(district), "一网格", "330106001001001"),
            area(grid_b, Some(district), "二网格", "330106001001002"),
            set(
                device,
                EntityKind::Station,
                station,
                json!({ "name": "微型消防站", "area_id": district,
                        "position": { "lat": 30.25, "lon": 120.16 }, "phone": null }),
            ),
            set(
                device,
                EntityKind::Building,
                building,
                json!({ "address_code": "3301060010010010011", "address": "3幢",
                        "kind": "residential", "grid_id": grid_a, "micro_grid_id": null,
                        "head_user_id": null, "station_id": station, "position": null }),
            ),
            set(
                device,
                EntityKind::Household,
                household,
                json!({ "building_id": building, "unit": "2-301", "kind": "owner_occupied",
                        "phone": null, "archived": false }),
            ),
        ] {
            let d = mem.push(&ctx, &op);
            assert!(matches!(d, Decision::Store(_)), "{d:?}");
        }
        Town {
            device,
            grid_a,
            grid_b,
            station,
            building,
            household,
            mem,
        }
    }

    #[test]
    fn a_household_is_placed_in_its_buildings_grid_and_filed_for_its_readers() {
        let t = town();
        let place = t.mem.places[&t.household].clone();
        assert_eq!(place.areas.last(), Some(&t.grid_a));
        assert_eq!(place.building, Some(t.building));
        assert_eq!(place.station, Some(t.station));
        let op = set(
            t.device,
            EntityKind::Household,
            t.household,
            json!({ "unit": "2-302" }),
        );
        let mut mem = t.mem;
        let s = stored(mem.push(&admin(t.device), &op));
        assert!(s.buckets.contains(&Bucket::Under(t.grid_a)));
        assert!(s.buckets.contains(&Bucket::Building(t.building)));
        assert!(s.buckets.contains(&Bucket::Station(t.station)));
        assert!(!s.buckets.contains(&Bucket::Under(t.grid_b)));
        assert!(s.replaced.is_empty(), "nothing moved");
        assert!(
            s.record_buckets(t.household).is_empty(),
            "its place is the same"
        );
    }

    #[test]
    fn a_building_redrawn_into_another_grid_takes_its_household_along_and_is_filed_in_both() {
        let t = town();
        let mut mem = t.mem;
        let op = set(
            t.device,
            EntityKind::Building,
            t.building,
            json!({ "grid_id": t.grid_b }),
        );
        let s = stored(mem.push(&admin(t.device), &op));
        assert!(
            s.buckets.contains(&Bucket::Under(t.grid_a)),
            "its old readers evict it"
        );
        assert!(s.buckets.contains(&Bucket::Under(t.grid_b)));
        assert_eq!(s.replaced.len(), 1);
        assert_eq!(s.replaced[0].id, t.household);
        assert_eq!(s.replaced[0].after.areas.last(), Some(&t.grid_b));
        let changes = s.record_buckets(t.building);
        let household = changes.iter().find(|c| c.id == t.household).unwrap();
        assert_eq!(household.remove, vec![Bucket::Under(t.grid_a)]);
        assert_eq!(household.add, vec![Bucket::Under(t.grid_b)]);
    }

    #[test]
    fn an_alarm_dispatched_to_another_station_makes_its_crew_a_responder_of_the_building() {
        let t = town();
        let mut mem = t.mem;
        let ctx = admin(t.device);
        let (alarm, far) = (Uuid::now_v7(), Uuid::now_v7());
        stored(mem.push(
            &ctx,
            &set(
                t.device,
                EntityKind::Case,
                alarm,
                json!({ "kind": "alarm", "title": "闻到烟味", "category": "fire",
                        "severity": "high", "area_id": t.grid_a, "building_id": t.building,
                        "household_id": null, "position": null, "opened_at_ms": NOW,
                        "patrol_id": null }),
            ),
        ));
        let stamp = Stamp::new(tick(), t.device);
        let dispatch = Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: alarm,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: Uuid::now_v7(),
                    case_id: alarm,
                    stamp,
                    actor: None,
                    action: CaseAction::Dispatch { station_id: far },
                },
            },
        };
        let s = stored(mem.push(&ctx, &dispatch));
        assert!(s.place_only());
        assert!(s.buckets.contains(&Bucket::Station(far)));
        let building = s.replaced.iter().find(|r| r.id == t.building).unwrap();
        assert_eq!(building.after.responders, vec![far]);
        let change = s
            .record_buckets(alarm)
            .into_iter()
            .find(|c| c.id == t.building)
            .unwrap();
        assert_eq!(change.add, vec![Bucket::Station(far)]);
    }

    #[test]
    fn a_replayed_id_is_a_duplicate_for_its_device_and_refused_for_another() {
        let t = town();
        let mut mem = t.mem;
        let op = set(
            t.device,
            EntityKind::Household,
            t.household,
            json!({ "unit": "2-303" }),
        );
        let Decision::Store(_) = mem.push(&admin(t.device), &op) else {
            panic!()
        };
        let seq = mem.seq;
        assert_eq!(mem.push(&admin(t.device), &op), Decision::Duplicate { seq });
        let other = Uuid::now_v7();
        let mut theirs = op.clone();
        theirs.stamp.device = other;
        let Decision::Rejected(r) = mem.push(&admin(other), &theirs) else {
            panic!("another device's id must not pass as stored")
        };
        assert_eq!(r.code, RejectCode::Malformed);
    }

    #[test]
    fn a_refused_operation_plans_no_write() {
        let t = town();
        let mut mem = t.mem;
        let head = PushContext {
            device: t.device,
            user: Uuid::now_v7(),
            view: ScopeView::new(Role::BuildingHead, vec![t.building], vec![vec![t.grid_a]]),
            now_ms: NOW,
        };
        let op = set(
            t.device,
            EntityKind::Building,
            t.building,
            json!({ "grid_id": t.grid_b }),
        );
        let Decision::Rejected(r) = mem.push(&head, &op) else {
            panic!("a building head cannot move its building")
        };
        assert_eq!(r.code, RejectCode::Forbidden);
        assert_eq!(mem.places[&t.building].areas.last(), Some(&t.grid_a));
    }

    #[test]
    fn a_building_head_checks_in_only_residents_of_its_own_buildings_households() {
        let t = town();
        let mut mem = t.mem;
        let admin_ctx = admin(t.device);
        let n = Uuid::now_v7;
        let (other_building, other_room, stranger, neighbour) = (n(), n(), n(), n());
        for op in [
            set(
                t.device,
                EntityKind::Building,
                other_building,
                json!({ "address_code": "3301060010010010012", "address": "4幢",
                        "kind": "residential", "grid_id": t.grid_a, "micro_grid_id": null,
                        "head_user_id": null, "station_id": t.station, "position": null }),
            ),
            set(
                t.device,
                EntityKind::Household,
                other_room,
                json!({ "building_id": other_building, "unit": "1-101", "kind": "rental",
                        "phone": null, "archived": false }),
            ),
        ] {
            stored(mem.push(&admin_ctx, &op));
        }
        for (id, room) in [(stranger, other_room), (neighbour, t.household)] {
            stored(mem.push(
                &admin_ctx,
                &set(
                    t.device,
                    EntityKind::Resident,
                    id,
                    json!({ "household_id": room, "name": "刘洋",
                            "id_number": "11010519491231002X", "phone": null,
                            "key_groups": [], "last_visit_ms": null, "archived": false }),
                ),
            ));
        }
        let head = PushContext {
            device: t.device,
            user: Uuid::now_v7(),
            view: ScopeView::new(Role::BuildingHead, vec![t.building], vec![vec![t.grid_a]]),
            now_ms: NOW,
        };
        let stay = |resident: Id| {
            set(
                t.device,
                EntityKind::Registration,
                Uuid::now_v7(),
                json!({ "resident_id": resident, "household_id": t.household,
                        "check_in": "2026-11-20", "expected_end": null, "check_out": null }),
            )
        };
        let Decision::Rejected(r) = mem.push(&head, &stay(stranger)) else {
            panic!("a resident of another building was checked in")
        };
        assert_eq!(r.code, RejectCode::Forbidden);
        assert!(r.message.contains("own building"), "{}", r.message);
        let check = check_tenant(&mut mem, &head.view, &{
            let mut s = RecordState::new(EntityKind::Registration, Uuid::now_v7());
            s.fields = json!({ "resident_id": neighbour, "household_id": t.household,
                               "check_in": "2026-11-20", "expected_end": null,
                               "check_out": null })
            .as_object()
            .unwrap()
            .clone();
            s
        });
        assert_eq!(check, Ok(Ok(())), "a resident of its own building");
    }
}
