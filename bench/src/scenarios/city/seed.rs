//! The city the scenario measures and the phones enrolled in it.
//!
//! A city of N grids of activity: the area tree (district, subdistrict, grid layers,
//! communities with their micro fire stations, grids, micro-grids), then in every grid 5
//! buildings, 15 households, 29 residents and one hazard case with its assignment: 50 records
//! and 51 operations a grid, made by [`crate::dataset::subdistrict`] with real-looking ids.
//!
//! The phone measured is grid 0's gridworker. Its cursor is the log's end just after the area
//! tree and grid 0's records were stored: everything the other N − 1 grids did is stored after
//! it, so a pull of "nothing new" must walk past the whole city's activity unless the server
//! reads by scope. Everything is stored through [`Storage::push`] as an all-seeing admin's
//! device would push it, and the phones are enrolled through the `Storage` API (user, code,
//! redeemed code), before any server process starts.

use std::collections::HashMap;
use std::sync::Arc;

use gridwork_core::new_id;
use gridwork_domain::ids::Id;
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::sync::Role;
use gridwork_server::storage::Storage;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::dataset::{DAY_MS, Size, Writer, now_ms, subdistrict};
use crate::load::Phone;
use crate::server;

/// Buildings, households, residents and cases in each grid.
pub const BUILDINGS_PER_GRID: usize = 5;
pub const HOUSEHOLDS_PER_GRID: usize = 15;
pub const RESIDENTS_PER_GRID: usize = 29;
pub const CASES_PER_GRID: usize = 1;

/// A city's operations, split around the measured phone's cursor.
#[derive(Debug)]
pub struct CityPlan {
    pub grids: usize,
    /// The area tree and grid 0's records: stored before the phone's cursor.
    before: Vec<Op>,
    /// Every other grid's records: stored after it.
    after: Vec<Op>,
    admin: gridwork_domain::ids::DeviceId,
    grid_ids: Vec<Id>,
    /// Households of each grid (the records the phones update).
    pub households: Vec<Vec<Id>>,
    /// Buildings of each grid (building heads' scopes).
    buildings: Vec<Vec<Id>>,
    /// Records made (areas and stations included).
    pub records: usize,
}

impl CityPlan {
    /// A city of `grids` grids.
    pub fn new(grids: usize) -> CityPlan {
        let size = Size {
            grids,
            buildings: BUILDINGS_PER_GRID * grids,
            households: HOUSEHOLDS_PER_GRID * grids,
            residents: RESIDENTS_PER_GRID * grids,
            cases: CASES_PER_GRID * grids,
        };
        let mut w = Writer::new(new_id(), now_ms() - 30 * DAY_MS);
        let data = subdistrict(&mut w, size, 17);
        let mut households = vec![Vec::new(); grids];
        let mut buildings = vec![Vec::new(); grids];
        // The grid of every record, found from the fields that place it.
        let mut grid_of: HashMap<Id, usize> = HashMap::new();
        for (id, g) in &data.buildings {
            grid_of.insert(*id, *g);
            buildings[*g].push(*id);
        }
        for (id, b) in &data.households {
            let g = data.buildings[*b].1;
            grid_of.insert(*id, g);
            households[g].push(*id);
        }
        let grid_index: HashMap<Id, usize> = data
            .grids
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i))
            .collect();
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for op in data.ops {
            let g = match (op.entity, &op.body) {
                (EntityKind::Area | EntityKind::Station, _) => None,
                (EntityKind::Resident, OpBody::Set { fields }) => {
                    let household = id_field(&fields["household_id"].value);
                    let g = grid_of[&household];
                    grid_of.insert(op.entity_id, g);
                    Some(g)
                }
                (EntityKind::Case, OpBody::Set { fields }) => {
                    let g = grid_index[&id_field(&fields["area_id"].value)];
                    grid_of.insert(op.entity_id, g);
                    Some(g)
                }
                _ => Some(grid_of[&op.entity_id]),
            };
            match g {
                None | Some(0) => before.push(op),
                Some(_) => after.push(op),
            }
        }
        CityPlan {
            grids,
            before,
            after,
            admin: w.device,
            grid_ids: data.grids,
            households,
            buildings,
            records: data.areas
                + data.stations.len()
                + data.buildings.len()
                + data.households.len()
                + data.residents
                + data.cases,
        }
    }

    /// Operations stored after the measured phone's cursor.
    pub fn ops_after_cursor(&self) -> usize {
        self.after.len()
    }
}

fn id_field(v: &Value) -> Id {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .expect("an id field")
}

/// A seeded city's phones and the measured phone's cursor.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The measured phone's cursor: the log's end once grid 0 was stored.
    pub cursor: u64,
    /// One gridworker's phone per grid, in grid order (grid 0's is the phone measured).
    pub gridworkers: Vec<Phone>,
    /// A second gridworker of grid 0 (another user), who makes the changes the phone pulls.
    pub colleague: Phone,
    /// Building heads of buildings outside grid 0, as many as asked.
    pub heads: Vec<Phone>,
}

impl Seeded {
    /// Phones whose scope is outside grid 0: gridworkers of the other grids, then building
    /// heads; `n` of them (panics if fewer were enrolled).
    pub fn outsiders(&self, n: usize) -> Vec<Phone> {
        let out: Vec<Phone> = self.gridworkers[1..]
            .iter()
            .chain(&self.heads)
            .take(n)
            .cloned()
            .collect();
        assert_eq!(out.len(), n, "not enough phones were enrolled");
        out
    }
}

/// Stores the city and enrolls a gridworker per grid (for grid 0, a second one too) and
/// `heads` building heads of buildings outside grid 0.
pub async fn seed<S: Storage>(storage: Arc<S>, plan: &CityPlan, heads: usize) -> Seeded {
    server::seed(storage.as_ref(), plan.admin, plan.before.clone()).await;
    let cursor = *storage.subscribe().borrow();
    server::seed(storage.as_ref(), plan.admin, plan.after.clone()).await;

    let mut wanted: Vec<(Role, Id, usize)> = (0..plan.grids)
        .map(|g| (Role::Gridworker, plan.grid_ids[g], g))
        .collect();
    wanted.push((Role::Gridworker, plan.grid_ids[0], 0));
    let outside: Vec<(Id, usize)> = (1..plan.grids)
        .flat_map(|g| plan.buildings[g].iter().map(move |b| (*b, g)))
        .take(heads)
        .collect();
    assert_eq!(outside.len(), heads, "the city has too few buildings");
    wanted.extend(outside.into_iter().map(|(b, g)| (Role::BuildingHead, b, g)));
    let mut phones = enroll(storage, wanted).await;
    let heads = phones.split_off(plan.grids + 1);
    let colleague = phones.pop().expect("grid 0's second gridworker");
    Seeded {
        cursor,
        gridworkers: phones,
        colleague,
        heads,
    }
}

/// Enrolls one phone per `(role, scope entry, grid)`, in that order: a user, a one-time code,
/// the code redeemed for a new device and its token. A few at a time (PostgreSQL's pool serves
/// them in parallel).
async fn enroll<S: Storage>(storage: Arc<S>, wanted: Vec<(Role, Id, usize)>) -> Vec<Phone> {
    let mut phones: Vec<Option<Phone>> = vec![None; wanted.len()];
    for (chunk_no, chunk) in wanted.chunks(32).enumerate() {
        let mut tasks = JoinSet::new();
        for (i, (role, scope, grid)) in chunk.iter().copied().enumerate() {
            let storage = storage.clone();
            tasks.spawn(async move {
                let name = match role {
                    Role::BuildingHead => "楼长",
                    _ => "网格员",
                };
                let code = server::user_code(storage.as_ref(), name, role, vec![scope]).await;
                let device = new_id();
                let enrolled = storage
                    .enroll(code, device, "phone".into(), now_ms())
                    .await
                    .expect("the code is redeemed");
                (chunk_no * 32 + i, Phone::new(device, &enrolled.token, grid))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, phone) = done.expect("an enrollment task");
            phones[i] = Some(phone);
        }
    }
    phones.into_iter().map(|p| p.expect("enrolled")).collect()
}
