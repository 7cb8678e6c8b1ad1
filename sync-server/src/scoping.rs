//! What a device may receive, decided per stored operation from where its record sat before and
//! after it (see `docs/scopes.md`): the operation is sent, skipped, or it moved the record into
//! or out of the device's scope, which brings the record and everything hanging from it
//! (a *gain*) or purges them (an *eviction*). Plain functions over plain data, shared by every
//! storage backend through [`crate::storage::Storage::pull`] and
//! [`crate::storage::Storage::snapshot_page`].

use std::collections::{BTreeMap, BTreeSet};

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::{Place, ScopeView, redact_op, redact_record, visible};
use gridwork_domain::sync::SequencedOp;
use gridwork_domain::workflow::CaseEvent;

use crate::storage::{PlacedRecord, PullPage, ScopeFilter};

/// What one stored operation means for one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// In scope before and after (or created in scope): send it.
    Send,
    /// Moved the record into scope: send it and the record's family in their current state.
    Gain,
    /// Moved the record out of scope: the device purges it and its family.
    Evict,
    /// Out of scope: the cursor moves past it, nothing is sent.
    Skip,
}

/// The fate of an operation whose record sat at `prior` before it (`None`: it created the
/// record) and at `place` after it (`None`: stored before places were kept; treated as out of
/// scope for everyone but an all-seeing admin, who is not filtered at all).
///
/// ```
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::scope::{Place, ScopeView};
/// use gridwork_domain::sync::Role;
/// use gridwork_server::scoping::{Fate, fate};
/// use uuid::Uuid;
///
/// let (grid_a, grid_b) = (Uuid::now_v7(), Uuid::now_v7());
/// let worker = ScopeView::new(Role::Gridworker, vec![grid_a], vec![vec![grid_a]]);
/// let mut in_a = Place::unresolved(EntityKind::Building, Uuid::now_v7());
/// in_a.areas = vec![grid_a];
/// let mut in_b = in_a.clone();
/// in_b.areas = vec![grid_b];
/// assert_eq!(fate(&worker, Some(&in_a), None), Fate::Send);
/// assert_eq!(fate(&worker, Some(&in_a), Some(&in_b)), Fate::Gain);
/// assert_eq!(fate(&worker, Some(&in_b), Some(&in_a)), Fate::Evict);
/// assert_eq!(fate(&worker, Some(&in_b), None), Fate::Skip);
/// ```
pub fn fate(view: &ScopeView, place: Option<&Place>, prior: Option<&Place>) -> Fate {
    let now = place.is_some_and(|p| visible(view, p));
    let before = prior.map(|p| visible(view, p));
    match (now, before) {
        (true, None | Some(true)) => Fate::Send,
        (true, Some(false)) => Fate::Gain,
        (false, Some(true)) => Fate::Evict,
        (false, _) => Fate::Skip,
    }
}

/// A stored record as the reader of `filter` receives it: `None` when out of their scope,
/// otherwise with the fields their role must not hold removed.
pub fn admit_record(filter: &ScopeFilter, row: PlacedRecord) -> Option<RecordState> {
    match filter {
        ScopeFilter::Everything => Some(row.state),
        ScopeFilter::Scoped(view) => {
            let place = row.place?;
            if !visible(view, &place) {
                return None;
            }
            let mut state = row.state;
            redact_record(view.role, &mut state);
            Some(state)
        }
    }
}

/// Builds one pull answer for one reader from the fates of the operations scanned.
///
/// Gains and evictions are decided on the records' *current* places, so within a page (and
/// across pages) they never contradict each other: a record gained is visible now, a record
/// evicted is not. A building moved out and back in again is evicted and then gained again.
#[derive(Debug)]
pub struct PageBuilder<'a> {
    view: &'a ScopeView,
    ops: Vec<SequencedOp>,
    gained: BTreeMap<Id, RecordState>,
    evicted: BTreeSet<Id>,
    next: u64,
    more: bool,
}

impl<'a> PageBuilder<'a> {
    /// An empty answer whose cursor is `next`.
    pub fn new(view: &'a ScopeView, next: u64, more: bool) -> PageBuilder<'a> {
        PageBuilder {
            view,
            ops: Vec::new(),
            gained: BTreeMap::new(),
            evicted: BTreeSet::new(),
            next,
            more,
        }
    }

    /// Adds an operation in scope, redacted for the reader's role.
    pub fn send(&mut self, seq: u64, mut op: Op) {
        redact_op(self.view.role, &mut op);
        self.ops.push(SequencedOp { seq, op });
    }

    /// Adds the members of a family that the reader may see now.
    pub fn gain(&mut self, family: Vec<PlacedRecord>) {
        for row in family {
            let id = row.state.id;
            if let Some(state) = admit_record(&ScopeFilter::Scoped(self.view.clone()), row) {
                self.evicted.remove(&id);
                self.gained.insert(id, state);
            }
        }
    }

    /// Evicts `root` and the members of its family that the reader may not see now.
    pub fn evict(&mut self, root: Id, family: Vec<PlacedRecord>) {
        let mut root_seen = false;
        for row in family {
            root_seen |= row.state.id == root;
            if !row.place.as_ref().is_some_and(|p| visible(self.view, p)) {
                self.gained.remove(&row.state.id);
                self.evicted.insert(row.state.id);
            }
        }
        if !root_seen {
            self.gained.remove(&root);
            self.evicted.insert(root);
        }
    }

    /// The cases among the gained records, whose events the answer must carry.
    pub fn gained_cases(&self) -> Vec<Id> {
        self.gained
            .values()
            .filter(|r| r.kind == EntityKind::Case)
            .map(|r| r.id)
            .collect()
    }

    /// The answer, with the gained cases' `events`.
    pub fn finish(self, events: Vec<CaseEvent>) -> PullPage {
        PullPage {
            ops: self.ops,
            records: self.gained.into_values().collect(),
            events,
            evict: self.evicted.into_iter().collect(),
            next: self.next,
            more: self.more,
        }
    }
}

#[cfg(test)]
mod tests {
    use gridwork_domain::sync::Role;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn placed(kind: EntityKind, grid: Id, fields: serde_json::Value) -> PlacedRecord {
        let mut state = RecordState::new(kind, Uuid::now_v7());
        state.fields = fields.as_object().cloned().unwrap_or_default();
        let mut place = Place::unresolved(kind, state.id);
        place.areas = vec![grid];
        PlacedRecord {
            state,
            place: Some(place),
        }
    }

    #[test]
    fn a_family_split_by_a_move_is_gained_and_evicted_by_current_place() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let worker = ScopeView::new(Role::Gridworker, vec![a], vec![vec![a]]);
        let mine = placed(EntityKind::Household, a, json!({}));
        let theirs = placed(EntityKind::Household, b, json!({}));
        let root = Uuid::now_v7();

        let mut page = PageBuilder::new(&worker, 7, false);
        page.gain(vec![mine.clone(), theirs.clone()]);
        page.evict(root, vec![mine.clone(), theirs.clone()]);
        let out = page.finish(vec![]);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].id, mine.state.id);
        // The root is not in the family (unknown now): evicted; the household outside is too.
        assert_eq!(out.evict.len(), 2);
        assert!(out.evict.contains(&root) && out.evict.contains(&theirs.state.id));
        assert_eq!(out.next, 7);
    }

    #[test]
    fn a_crew_gets_residents_without_id_numbers() {
        let station = Uuid::now_v7();
        let crew = ScopeView::new(Role::FireCrew, vec![station], vec![]);
        let mut resident = placed(
            EntityKind::Resident,
            Uuid::now_v7(),
            json!({ "name": "王芳", "id_number": "330106199001011234", "phone": "13800000000" }),
        );
        let place = resident.place.as_mut().unwrap();
        place.building = Some(Uuid::now_v7());
        place.station = Some(station);
        let got = admit_record(&ScopeFilter::Scoped(crew), resident).unwrap();
        assert!(!got.fields.contains_key("id_number"));
        assert_eq!(got.fields["phone"], "13800000000");
    }

    #[test]
    fn an_operation_stored_before_places_were_kept_is_skipped_for_a_scoped_reader() {
        let grid = Uuid::now_v7();
        let worker = ScopeView::new(Role::Gridworker, vec![grid], vec![vec![grid]]);
        assert_eq!(fate(&worker, None, None), Fate::Skip);
    }
}
