//! What the console shows, read from storage as the signed-in user may see it: every record
//! in the user's scope ([`Storage::record_rows`] over the scope's buckets, each row judged by
//! the same rule as a phone's snapshot, [`reading::admit_record`], so fields the role may not
//! hold are removed), decoded, with each case folded from its events.
//!
//! The cost is that of a phone's full snapshot of the same scope, paid per page view; the live
//! board re-reads it only when a push touched the scope's buckets.

use std::collections::HashMap;

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{
    Area, AreaLevel, Building, Case, Household, Patrol, PatrolVisit, Registration, Resident,
    Station,
};
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::ScopeView;
use gridwork_domain::workflow::{CaseEvent, CaseFold, DeadlinePolicy, fold};

use crate::rules::reading::{self, ScopeFilter};
use crate::storage::{Storage, StorageError, User};

/// Rows read per page.
const PAGE: usize = 2000;

/// One case with its events and its fold.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case: Case,
    pub events: Vec<CaseEvent>,
    pub fold: CaseFold,
}

/// Everything in one user's scope.
#[derive(Debug, Default)]
pub struct World {
    pub areas: HashMap<Id, Area>,
    pub buildings: HashMap<Id, Building>,
    pub stations: HashMap<Id, Station>,
    pub households: HashMap<Id, Household>,
    pub residents: HashMap<Id, Resident>,
    pub registrations: Vec<Registration>,
    pub patrols: HashMap<Id, Patrol>,
    pub visits: Vec<PatrolVisit>,
    pub cases: Vec<CaseRow>,
    /// The users of the installation (names of actors and assignees).
    pub users: HashMap<Id, User>,
}

fn decode<T: serde::de::DeserializeOwned>(state: &RecordState) -> Option<T> {
    if state.is_deleted() {
        return None;
    }
    state.decode().ok()
}

impl World {
    /// Reads everything `view` may see.
    pub async fn load<S: Storage>(storage: &S, view: &ScopeView) -> Result<World, StorageError> {
        let filter = ScopeFilter::for_view(view.clone());
        let buckets = filter.buckets();
        let mut world = World::default();
        let mut after = None;
        let mut case_ids = Vec::new();
        let mut cases = HashMap::new();
        loop {
            let rows = storage.record_rows(buckets.clone(), after, PAGE).await?;
            for row in rows.records {
                after = Some(row.state.id);
                let Some(state) = reading::admit_record(&filter, row) else {
                    continue;
                };
                match state.kind {
                    EntityKind::Area => {
                        if let Some(a) = decode::<Area>(&state) {
                            world.areas.insert(a.id, a);
                        }
                    }
                    EntityKind::Building => {
                        if let Some(b) = decode::<Building>(&state) {
                            world.buildings.insert(b.id, b);
                        }
                    }
                    EntityKind::Station => {
                        if let Some(s) = decode::<Station>(&state) {
                            world.stations.insert(s.id, s);
                        }
                    }
                    EntityKind::Household => {
                        if let Some(h) = decode::<Household>(&state) {
                            world.households.insert(h.id, h);
                        }
                    }
                    EntityKind::Resident => {
                        if let Some(r) = decode::<Resident>(&state) {
                            world.residents.insert(r.id, r);
                        }
                    }
                    EntityKind::Registration => {
                        if let Some(r) = decode::<Registration>(&state) {
                            world.registrations.push(r);
                        }
                    }
                    EntityKind::Patrol => {
                        if let Some(p) = decode::<Patrol>(&state) {
                            world.patrols.insert(p.id, p);
                        }
                    }
                    EntityKind::PatrolVisit => {
                        if let Some(v) = decode::<PatrolVisit>(&state) {
                            world.visits.push(v);
                        }
                    }
                    EntityKind::Case => {
                        if let Some(c) = decode::<Case>(&state) {
                            case_ids.push(c.id);
                            cases.insert(c.id, c);
                        }
                    }
                }
            }
            if !rows.more {
                break;
            }
        }
        let mut events: HashMap<Id, Vec<CaseEvent>> = HashMap::new();
        for chunk in case_ids.chunks(500) {
            for e in storage.case_events(chunk.to_vec()).await? {
                events.entry(e.case_id).or_default().push(e);
            }
        }
        for id in case_ids {
            let Some(case) = cases.remove(&id) else {
                continue;
            };
            let mut evs = events.remove(&id).unwrap_or_default();
            evs.sort_by_key(|e| (e.stamp, e.id));
            let fold = fold(case.kind, case.opened_at_ms, &evs);
            world.cases.push(CaseRow {
                case,
                events: evs,
                fold,
            });
        }
        world.users = storage
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        Ok(world)
    }

    /// The deadline policy a case is timed by: the default with its subdistrict's response
    /// policies.
    pub fn policy_for(&self, area: Id) -> DeadlinePolicy {
        match self.subdistrict_of(area) {
            Some(sub) if !sub.response_policies.is_empty() => {
                DeadlinePolicy::with_responses(sub.response_policies.clone())
            }
            _ => DeadlinePolicy::default(),
        }
    }

    /// The subdistrict an area lies in (itself when it is one).
    pub fn subdistrict_of(&self, mut at: Id) -> Option<&Area> {
        for _ in 0..16 {
            let a = self.areas.get(&at)?;
            if a.level == AreaLevel::Subdistrict {
                return Some(a);
            }
            at = a.parent_id?;
        }
        None
    }

    /// The grid an area lies in (itself when it is one), if it is at or below grid level.
    pub fn grid_of(&self, mut at: Id) -> Option<&Area> {
        for _ in 0..16 {
            let a = self.areas.get(&at)?;
            if a.level == AreaLevel::Grid {
                return Some(a);
            }
            at = a.parent_id?;
        }
        None
    }

    /// Whether `area` is `ancestor` or lies below it.
    pub fn within(&self, mut area: Id, ancestor: Id) -> bool {
        for _ in 0..16 {
            if area == ancestor {
                return true;
            }
            match self.areas.get(&area).and_then(|a| a.parent_id) {
                Some(p) => area = p,
                None => return false,
            }
        }
        false
    }

    /// A user's name, or a short id when unknown.
    pub fn user_name(&self, id: Option<Id>) -> String {
        match id {
            None => "—".into(),
            Some(id) => self
                .users
                .get(&id)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| format!("用户 {}", &id.to_string()[..8])),
        }
    }

    /// The areas at `level`, by code.
    pub fn areas_at(&self, level: AreaLevel) -> Vec<&Area> {
        let mut v: Vec<&Area> = self.areas.values().filter(|a| a.level == level).collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }
}
