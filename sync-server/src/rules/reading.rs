//! What a device may receive, decided per stored operation from where its record sat before and
//! after it (see `docs/scopes.md`): the operation is sent, skipped, or it moved the record into
//! or out of the device's scope, which brings the record and everything hanging from it
//! (a *gain*) or purges them (an *eviction*). Plain functions over plain data, shared by every
//! storage backend through [`crate::storage::Storage::pull`] and
//! [`crate::storage::Storage::snapshot_page`]. The storage reads only the buckets of the
//! reader's scope ([`gridwork_domain::scope::read_by`]); these rules then decide exactly.

use std::collections::{BTreeMap, BTreeSet};

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::scope::{
    Bucket, Place, ScopeView, read_by, redact_op, redact_record, visible,
};
use gridwork_domain::sync::SequencedOp;
use gridwork_domain::workflow::CaseEvent;

/// Which operations and records a reader may see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ScopeFilter {
    /// No filtering: tools, tests and an admin with an empty scope (the whole installation).
    #[default]
    Everything,
    /// What this user may see ([`gridwork_domain::scope::visible`]), with the fields their role
    /// must not hold removed ([`gridwork_domain::scope::redact_record`]).
    Scoped(ScopeView),
}

impl ScopeFilter {
    /// The filter for a user's view: `Everything` for an all-seeing admin.
    pub fn for_view(view: ScopeView) -> ScopeFilter {
        if view.is_everything() {
            ScopeFilter::Everything
        } else {
            ScopeFilter::Scoped(view)
        }
    }

    /// The buckets to read for this reader (`None`: the whole log, unfiltered).
    pub fn buckets(&self) -> Option<Vec<Bucket>> {
        match self {
            ScopeFilter::Everything => None,
            ScopeFilter::Scoped(view) => Some(read_by(view).unwrap_or_default()),
        }
    }
}

/// A stored record with its current place (`None` only for a record stored before places
/// were kept and never touched since).
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedRecord {
    pub state: RecordState,
    pub place: Option<Place>,
}

/// A page of the operation log as a device sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PullPage {
    /// Operations after the cursor that the device may see, in sequence order.
    pub ops: Vec<SequencedOp>,
    /// Records that entered the device's scope in this page, in their current state.
    pub records: Vec<RecordState>,
    /// Every event of the cases in `records`.
    pub events: Vec<CaseEvent>,
    /// Records that left the device's scope.
    pub evict: Vec<Id>,
    /// The cursor for the next page: the last sequence number of this page when more follow,
    /// else the end of the log when it was read (operations out of scope move it too), or the
    /// cursor asked from when that is later.
    pub next: u64,
    /// More operations for this reader wait beyond `next`.
    pub more: bool,
}

impl PullPage {
    /// Whether the page carries anything for the device (the cursor may move regardless).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.records.is_empty() && self.evict.is_empty()
    }
}

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
/// use gridwork_server::rules::reading::{Fate, fate};
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

/// The buildings a case operation concerns besides the case, for one reader. A crew sees the
/// building of an alarm dispatched to it even when another station serves it
/// ([`Place::responders`]), and nothing is written to the building when that happens: the
/// building travels with the case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseBuildings {
    /// The case's building, to send with it when the reader sees that building only through
    /// its alarms (the case was gained, created, or moved into that building).
    pub offer: Option<Id>,
    /// The building the case left, to evict when the reader no longer sees it.
    pub left: Option<Id>,
}

/// [`CaseBuildings`] of an operation of fate `fate` whose record sat at `prior` and sits at
/// `place` (nothing for records other than cases).
///
/// ```
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::scope::Place;
/// use gridwork_server::rules::reading::{Fate, case_buildings};
/// use uuid::Uuid;
///
/// let mut alarm = Place::unresolved(EntityKind::Case, Uuid::now_v7());
/// alarm.building = Some(Uuid::now_v7());
/// // Dispatched to the reader's station: the case is gained, its building offered.
/// let gained = case_buildings(Fate::Gain, Some(&alarm), Some(&alarm));
/// assert_eq!(gained.offer, alarm.building);
/// // A step on an alarm the reader already holds brings nothing more.
/// assert_eq!(case_buildings(Fate::Send, Some(&alarm), Some(&alarm)).offer, None);
/// ```
pub fn case_buildings(fate: Fate, place: Option<&Place>, prior: Option<&Place>) -> CaseBuildings {
    let Some(place) = place.filter(|p| p.kind == EntityKind::Case) else {
        return CaseBuildings::default();
    };
    let (now, before) = (place.building, prior.and_then(|p| p.building));
    let offer = match fate {
        Fate::Gain => now,
        Fate::Send if prior.is_none() || before != now => now,
        _ => None,
    };
    let left = match fate {
        Fate::Send | Fate::Evict if before != now => before,
        _ => None,
    };
    CaseBuildings { offer, left }
}

/// Whether the reader sees the building at `place` only because alarms in it were dispatched
/// to their station (a crew, another station's building).
pub fn seen_through_alarms(view: &ScopeView, place: &Place) -> bool {
    if place.responders.is_empty() || !visible(view, place) {
        return false;
    }
    let mut without = place.clone();
    without.responders.clear();
    !visible(view, &without)
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

    /// Adds a case's building that the reader sees only through its alarms
    /// ([`seen_through_alarms`]); a building they see anyway is theirs already.
    pub fn offer_building(&mut self, row: PlacedRecord) {
        if row
            .place
            .as_ref()
            .is_some_and(|p| seen_through_alarms(self.view, p))
        {
            self.gain(vec![row]);
        }
    }

    /// Evicts the building `id` a case left, unless the reader still sees it (`row`: its
    /// current state; `None` when unknown).
    pub fn drop_building(&mut self, id: Id, row: Option<PlacedRecord>) {
        let visible_now = row
            .as_ref()
            .and_then(|r| r.place.as_ref())
            .is_some_and(|p| visible(self.view, p));
        if !visible_now {
            self.evict(id, row.into_iter().collect());
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
    fn a_crew_is_offered_the_building_of_its_alarm_only_when_it_sees_it_through_the_alarm() {
        let (station, other, grid) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let crew = ScopeView::new(Role::FireCrew, vec![station], vec![]);
        let building = |assigned: Id, responders: Vec<Id>| {
            let mut row = placed(EntityKind::Building, grid, json!({ "name": "3幢" }));
            let place = row.place.as_mut().unwrap();
            place.building = Some(row.state.id);
            place.station = Some(assigned);
            place.responders = responders;
            row
        };
        // Another station's building, the alarm dispatched here: offered, and sent.
        let theirs = building(other, vec![station]);
        let mut page = PageBuilder::new(&crew, 3, false);
        page.offer_building(theirs.clone());
        let out = page.finish(vec![]);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].id, theirs.state.id);
        // Its own building is not sent again; a building with no alarm sent here is not sent.
        let mut page = PageBuilder::new(&crew, 3, false);
        page.offer_building(building(station, vec![station]));
        page.offer_building(building(other, vec![other]));
        assert!(page.finish(vec![]).records.is_empty());
        // A gridworker never gets buildings through alarms.
        let worker = ScopeView::new(Role::Gridworker, vec![grid], vec![vec![grid]]);
        let mut page = PageBuilder::new(&worker, 3, false);
        page.offer_building(theirs.clone());
        assert!(
            page.finish(vec![]).records.is_empty(),
            "it holds it already"
        );

        // The alarm moved to another building: the one it left goes, unless still seen.
        let mut page = PageBuilder::new(&crew, 3, false);
        let mut left = building(other, vec![]);
        left.state.id = theirs.state.id;
        page.drop_building(left.state.id, Some(left));
        let ours = building(station, vec![]);
        page.drop_building(ours.state.id, Some(ours));
        let out = page.finish(vec![]);
        assert_eq!(out.evict, vec![theirs.state.id]);
    }

    #[test]
    fn case_buildings_follow_the_case_on_gain_creation_and_move() {
        let mut alarm = Place::unresolved(EntityKind::Case, Uuid::now_v7());
        alarm.building = Some(Uuid::now_v7());
        let mut moved = alarm.clone();
        moved.building = Some(Uuid::now_v7());
        let created = case_buildings(Fate::Send, Some(&alarm), None);
        assert_eq!(created.offer, alarm.building);
        assert_eq!(created.left, None);
        let m = case_buildings(Fate::Send, Some(&moved), Some(&alarm));
        assert_eq!((m.offer, m.left), (moved.building, alarm.building));
        let out = case_buildings(Fate::Evict, Some(&moved), Some(&alarm));
        assert_eq!((out.offer, out.left), (None, alarm.building));
        assert_eq!(
            case_buildings(Fate::Skip, Some(&moved), Some(&alarm)),
            CaseBuildings::default()
        );
        let mut household = alarm.clone();
        household.kind = EntityKind::Household;
        assert_eq!(
            case_buildings(Fate::Gain, Some(&household), None),
            CaseBuildings::default()
        );
    }

    #[test]
    fn an_operation_stored_before_places_were_kept_is_skipped_for_a_scoped_reader() {
        let grid = Uuid::now_v7();
        let worker = ScopeView::new(Role::Gridworker, vec![grid], vec![vec![grid]]);
        assert_eq!(fate(&worker, None, None), Fate::Skip);
    }
}
