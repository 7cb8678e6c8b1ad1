//! Scope buckets: the few index keys under which the server files every stored operation and
//! record, so that a phone's pull, snapshot and long poll read only what its scope may hold
//! instead of scanning the city.
//!
//! A record at a [`Place`] is filed under [`filed_under`] its place; a user reads the buckets
//! [`read_by`] their [`ScopeView`]. The scheme is hierarchical where the hierarchy is: a record
//! in a grid is filed under that grid *and* every area above it, so a dispatcher reads one
//! bucket (its subdistrict) and a gridworker one (its grid); a building head reads its building's
//! bucket and a crew its station's. Writes pay for it (a household is filed under about seven
//! buckets), reads do not: DESIGN.md asks that every request cost in proportion to the asking
//! phone's scope.
//!
//! The buckets are a sound superset of [`visible`](crate::scope::visible): whenever a user may
//! see a record, some bucket they read holds it (a property test below checks this for every
//! role over random cities). Most buckets are exact; the server still runs `visible` on what it
//! reads, so a bucket that holds more than a reader may see costs a row, never a leak.
//!
//! | bucket | holds | read by |
//! |---|---|---|
//! | `Under(a)` | every record whose area path passes through `a` | admins, gridworkers, dispatchers scoped to `a` |
//! | `At(a)` | areas and stations whose path ends at `a` | everyone whose scope hangs below `a` (the areas above them, read-only) |
//! | `AreasUnder(a)` | areas under `a` | mediators scoped to `a` (names to place a dispute) |
//! | `Building(b)` | building `b`, its households, residents, registrations, cases | building heads of `b` |
//! | `Station(s)` | station `s`, alarms dispatched to it, buildings it serves or was sent to, their households and residents | crews of `s` |
//! | `Mediation(a)` | disputes under `a` that reached the line of defence of a mediator scoped to `a` | mediators scoped to `a` |

use std::fmt;

use crate::ids::Id;
use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::scope::{Place, ScopeView};
use crate::sync::Role;

/// One scope bucket. See the module doc for what each holds and who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    Under(Id),
    At(Id),
    AreasUnder(Id),
    Building(Id),
    Station(Id),
    Mediation(Id),
}

/// The length of [`Bucket::to_bytes`]: a tag byte and the 16 bytes of the id.
pub const BUCKET_BYTES: usize = 17;

impl Bucket {
    fn tag(self) -> (u8, Id) {
        match self {
            Bucket::Under(id) => (b'u', id),
            Bucket::At(id) => (b'a', id),
            Bucket::AreasUnder(id) => (b'n', id),
            Bucket::Building(id) => (b'b', id),
            Bucket::Station(id) => (b's', id),
            Bucket::Mediation(id) => (b'm', id),
        }
    }

    /// The compact key stored in the index tables: a tag byte, then the id's 16 bytes.
    ///
    /// ```
    /// use gridwork_domain::scope::Bucket;
    /// use uuid::Uuid;
    ///
    /// let grid = Uuid::now_v7();
    /// let key = Bucket::Under(grid).to_bytes();
    /// assert_eq!(Bucket::from_bytes(&key), Some(Bucket::Under(grid)));
    /// assert_ne!(key, Bucket::At(grid).to_bytes());
    /// ```
    pub fn to_bytes(self) -> [u8; BUCKET_BYTES] {
        let (tag, id) = self.tag();
        let mut out = [0u8; BUCKET_BYTES];
        out[0] = tag;
        out[1..].copy_from_slice(id.as_bytes());
        out
    }

    /// The bucket of a stored key; `None` when it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Bucket> {
        if bytes.len() != BUCKET_BYTES {
            return None;
        }
        let id = Id::from_slice(&bytes[1..]).ok()?;
        Some(match bytes[0] {
            b'u' => Bucket::Under(id),
            b'a' => Bucket::At(id),
            b'n' => Bucket::AreasUnder(id),
            b'b' => Bucket::Building(id),
            b's' => Bucket::Station(id),
            b'm' => Bucket::Mediation(id),
            _ => return None,
        })
    }

    /// The key as 34 lower-case hex digits (for text channels such as PostgreSQL's NOTIFY).
    pub fn to_hex(self) -> String {
        self.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The bucket of [`Bucket::to_hex`]'s text; `None` when it is not one.
    pub fn from_hex(text: &str) -> Option<Bucket> {
        if text.len() != BUCKET_BYTES * 2 || !text.is_ascii() {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..BUCKET_BYTES)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect();
        Bucket::from_bytes(&bytes?)
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Bucket::Under(_) => "under",
            Bucket::At(_) => "at",
            Bucket::AreasUnder(_) => "areas-under",
            Bucket::Building(_) => "building",
            Bucket::Station(_) => "station",
            Bucket::Mediation(_) => "mediation",
        };
        write!(f, "{name}:{}", self.tag().1)
    }
}

/// The buckets a record at `place` is filed under, sorted, without repeats. A record whose
/// place is not resolved is filed nowhere: only an all-seeing admin, who reads no bucket, sees
/// it.
///
/// ```
/// use gridwork_domain::op::EntityKind;
/// use gridwork_domain::scope::{Bucket, Place, filed_under};
/// use uuid::Uuid;
///
/// let (district, grid, building) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
/// let mut household = Place::unresolved(EntityKind::Household, Uuid::now_v7());
/// household.areas = vec![district, grid];
/// household.building = Some(building);
/// let buckets = filed_under(&household);
/// assert!(buckets.contains(&Bucket::Under(district)));
/// assert!(buckets.contains(&Bucket::Under(grid)));
/// assert!(buckets.contains(&Bucket::Building(building)));
/// assert_eq!(buckets.len(), 3);
/// ```
pub fn filed_under(place: &Place) -> Vec<Bucket> {
    let mut out = Vec::new();
    if !place.is_resolved() {
        return out;
    }
    out.extend(place.areas.iter().map(|a| Bucket::Under(*a)));
    if matches!(place.kind, EntityKind::Area | EntityKind::Station)
        && let Some(last) = place.areas.last()
    {
        out.push(Bucket::At(*last));
    }
    match place.kind {
        EntityKind::Area => out.extend(place.areas.iter().map(|a| Bucket::AreasUnder(*a))),
        EntityKind::Station => out.push(Bucket::Station(place.id)),
        EntityKind::Building => {
            out.extend(place.building.map(Bucket::Building));
            out.extend(place.station.map(Bucket::Station));
            out.extend(place.responders.iter().map(|s| Bucket::Station(*s)));
        }
        EntityKind::Household | EntityKind::Resident => {
            out.extend(place.building.map(Bucket::Building));
            out.extend(place.station.map(Bucket::Station));
        }
        EntityKind::Registration => out.extend(place.building.map(Bucket::Building)),
        EntityKind::Case => {
            out.extend(place.building.map(Bucket::Building));
            if let Some(case) = &place.case {
                if case.kind == CaseKind::Alarm {
                    out.extend(case.dispatched_to.iter().map(|s| Bucket::Station(*s)));
                }
                if case.kind == CaseKind::Dispute
                    && let Some(reached) = case.dispute_level
                {
                    // A mediator scoped to the area at depth d works at the line of defence
                    // of that depth: the dispute is theirs once it reached that line.
                    for (depth, area) in place.areas.iter().enumerate() {
                        if reached >= ScopeView::mediator_level(depth + 1) {
                            out.push(Bucket::Mediation(*area));
                        }
                    }
                }
            }
        }
        EntityKind::Patrol | EntityKind::PatrolVisit => {}
    }
    out.sort();
    out.dedup();
    out
}

/// The buckets the user of `view` reads, sorted, without repeats; `None` for an all-seeing
/// admin (an empty scope: the whole installation, no bucket to read).
///
/// ```
/// use gridwork_domain::scope::{Bucket, ScopeView, read_by};
/// use gridwork_domain::sync::Role;
/// use uuid::Uuid;
///
/// let (district, grid) = (Uuid::now_v7(), Uuid::now_v7());
/// let worker = ScopeView::new(Role::Gridworker, vec![grid], vec![vec![district, grid]]);
/// let buckets = read_by(&worker).unwrap();
/// assert!(buckets.contains(&Bucket::Under(grid)));
/// assert!(buckets.contains(&Bucket::At(district)), "the district's name and stations");
/// assert_eq!(read_by(&ScopeView::new(Role::Admin, vec![], vec![])), None);
/// ```
pub fn read_by(view: &ScopeView) -> Option<Vec<Bucket>> {
    if view.is_everything() {
        return None;
    }
    let mut out: Vec<Bucket> = view
        .anchors
        .iter()
        .flatten()
        .map(|a| Bucket::At(*a))
        .collect();
    for entry in &view.scope {
        match view.role {
            Role::Admin | Role::Gridworker | Role::Dispatcher => out.push(Bucket::Under(*entry)),
            Role::BuildingHead => out.push(Bucket::Building(*entry)),
            Role::FireCrew => out.push(Bucket::Station(*entry)),
            Role::Mediator => {
                out.push(Bucket::AreasUnder(*entry));
                out.push(Bucket::Mediation(*entry));
            }
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The buckets an operation that moved a record from `prior` (`None`: it created the record)
/// to `place` is filed under: both places' buckets, so the readers who lose the record learn of
/// it (an eviction) as well as those who keep or gain it.
pub fn filed_under_move(place: &Place, prior: Option<&Place>) -> Vec<Bucket> {
    let mut out = filed_under(place);
    if let Some(prior) = prior
        && prior != place
    {
        out.extend(filed_under(prior));
        out.sort();
        out.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::scope::test_support::City;
    use crate::scope::{CaseFacts, visible};
    use crate::workflow::DefenceLevel;

    /// A small random city: a fixed tree of areas (district → 2 subdistricts → 2 communities
    /// each → 2 grids each), a pool of buildings (each in a grid, served by a station) and of
    /// stations.
    #[derive(Debug, Clone)]
    struct World {
        paths: Vec<Vec<Id>>,
        buildings: Vec<(Id, usize, Id)>,
        stations: Vec<(Id, usize)>,
    }

    fn world() -> World {
        let n = crate::ids::test_id;
        let district = n();
        let mut paths = vec![vec![district]];
        for _ in 0..2 {
            let sub = n();
            paths.push(vec![district, sub]);
            for _ in 0..2 {
                let community = n();
                paths.push(vec![district, sub, community]);
                for _ in 0..2 {
                    paths.push(vec![district, sub, community, n()]);
                }
            }
        }
        let stations: Vec<(Id, usize)> = (0..4).map(|i| (n(), (i * 3) % paths.len())).collect();
        let buildings = (0..6)
            .map(|i| {
                (
                    n(),
                    paths.len() - 1 - (i % 4),
                    stations[i % stations.len()].0,
                )
            })
            .collect();
        World {
            paths,
            buildings,
            stations,
        }
    }

    /// Choices that pick a place in `w`: kind, path, building, responders, case facts.
    fn place_in(w: &World, pick: &[usize]) -> Place {
        let kind = EntityKind::ALL[pick[0] % EntityKind::ALL.len()];
        let mut p = Place::unresolved(kind, crate::ids::test_id());
        let (building, grid, station) = w.buildings[pick[1] % w.buildings.len()];
        match kind {
            EntityKind::Area => {
                p.areas = w.paths[pick[2] % w.paths.len()].clone();
                p.id = *p.areas.last().unwrap();
            }
            EntityKind::Station => {
                let (id, at) = w.stations[pick[2] % w.stations.len()];
                p.id = id;
                p.areas = w.paths[at].clone();
                p.station = Some(id);
            }
            EntityKind::Patrol => p.areas = w.paths[pick[2] % w.paths.len()].clone(),
            _ => {
                p.areas = w.paths[grid].clone();
                p.building = Some(building);
                p.station = Some(station);
                if kind == EntityKind::Building {
                    p.id = building;
                    p.responders = w
                        .stations
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| pick[3] & (1 << i) != 0)
                        .map(|(_, s)| s.0)
                        .collect();
                }
            }
        }
        if kind == EntityKind::Case {
            let case_kind = CaseKind::ALL[pick[4] % CaseKind::ALL.len()];
            let levels = DefenceLevel::ALL;
            p.case = Some(CaseFacts {
                kind: case_kind,
                dispatched_to: w
                    .stations
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| pick[3] & (1 << i) != 0)
                    .map(|(_, s)| s.0)
                    .collect(),
                dispute_level: (pick[5] % (levels.len() + 1))
                    .checked_sub(1)
                    .map(|i| levels[i]),
            });
            if pick[6].is_multiple_of(3) {
                // A case in a square: no building.
                p.building = None;
                p.station = None;
            }
        }
        if pick[7].is_multiple_of(11) {
            p.areas.clear();
        }
        p
    }

    /// Choices that pick a user in `w`: role and up to two scope entries, anchored in the tree.
    fn view_in(w: &World, pick: &[usize]) -> ScopeView {
        const ROLES: [Role; 6] = [
            Role::Admin,
            Role::Gridworker,
            Role::Dispatcher,
            Role::BuildingHead,
            Role::FireCrew,
            Role::Mediator,
        ];
        let role = ROLES[pick[0] % ROLES.len()];
        let entries = pick[1] % 3;
        let mut scope = Vec::new();
        let mut anchors = Vec::new();
        for i in 0..entries {
            let k = pick[2 + i];
            match role {
                Role::BuildingHead => {
                    let (b, grid, _) = w.buildings[k % w.buildings.len()];
                    scope.push(b);
                    anchors.push(w.paths[grid].clone());
                }
                Role::FireCrew => {
                    let (s, at) = w.stations[k % w.stations.len()];
                    scope.push(s);
                    anchors.push(w.paths[at].clone());
                }
                _ => {
                    let path = w.paths[k % w.paths.len()].clone();
                    scope.push(*path.last().unwrap());
                    anchors.push(path);
                }
            }
        }
        ScopeView::new(role, scope, anchors)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Soundness of the whole scheme: whoever may see a record reads a bucket it is filed
        /// under. A bucket missing here is a record a phone never receives.
        #[test]
        fn whoever_may_see_a_record_reads_a_bucket_it_is_filed_under(
            place_pick in proptest::collection::vec(0usize..64, 8),
            view_pick in proptest::collection::vec(0usize..64, 4),
        ) {
            let w = world();
            let place = place_in(&w, &place_pick);
            let view = view_in(&w, &view_pick);
            if visible(&view, &place) {
                match read_by(&view) {
                    None => prop_assert!(view.is_everything()),
                    Some(reads) => {
                        let filed = filed_under(&place);
                        prop_assert!(
                            reads.iter().any(|b| filed.contains(b)),
                            "{:?} may see {:?} but reads none of {:?}", view, place, filed
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_buckets_of_each_role_hold_what_it_sees_and_little_else() {
        let c = City::new();
        let shares = |view: &ScopeView, place: &Place| {
            let reads = read_by(view).unwrap();
            filed_under(place).iter().any(|b| reads.contains(b))
        };
        // A gridworker's grid bucket holds its households, not the next grid's.
        let worker = c.gridworker();
        assert!(shares(&worker, &c.household(c.grid_a)));
        assert!(!shares(&worker, &c.household(c.grid_b)));
        // A building head reads its building, not its neighbours' nor the patrol visits.
        let head = c.building_head();
        assert!(shares(
            &head,
            &c.in_building(EntityKind::Registration, c.building_a)
        ));
        assert!(!shares(&head, &c.household(c.grid_a)));
        assert!(!shares(
            &head,
            &c.in_building(EntityKind::PatrolVisit, c.building_a)
        ));
        // A crew reads alarms dispatched to it, not hazards.
        let crew = c.crew();
        assert!(shares(&crew, &c.alarm(Some(c.station_id))));
        assert!(!shares(&crew, &c.alarm(None)));
        assert!(!shares(&crew, &c.hazard(c.grid_a)));
        // A mediator reads disputes that reached its line, not those settled below it.
        let mediator = c.mediator();
        assert!(shares(
            &mediator,
            &c.dispute(c.grid_a, Some(DefenceLevel::VillageSecretary))
        ));
        assert!(!shares(
            &mediator,
            &c.dispute(c.grid_a, Some(DefenceLevel::Gridworker))
        ));
    }

    #[test]
    fn a_moved_record_is_filed_where_it_was_and_where_it_is() {
        let c = City::new();
        let before = c.household(c.grid_a);
        let mut after = before.clone();
        after.areas = c.path(c.grid_b);
        let both = filed_under_move(&after, Some(&before));
        assert!(both.contains(&Bucket::Under(c.grid_a)));
        assert!(both.contains(&Bucket::Under(c.grid_b)));
        assert_eq!(filed_under_move(&after, None), filed_under(&after));
    }

    #[test]
    fn an_unresolved_record_is_filed_nowhere_and_keys_round_trip_as_hex() {
        let orphan = Place::unresolved(EntityKind::Household, crate::ids::test_id());
        assert!(filed_under(&orphan).is_empty());
        let b = Bucket::Mediation(crate::ids::test_id());
        assert_eq!(Bucket::from_hex(&b.to_hex()), Some(b));
        assert_eq!(Bucket::from_hex("zz"), None);
        assert_eq!(Bucket::from_bytes(&[b'x'; BUCKET_BYTES]), None);
    }
}
