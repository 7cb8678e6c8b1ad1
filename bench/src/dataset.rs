//! The data the scenarios use, made directly as operations (no device store in between, so
//! making it costs little and does not depend on the engine being measured): a subdistrict of
//! areas, stations, buildings, households, residents and hazard cases, and streams of field
//! updates from several writers.

use std::collections::HashMap;

use chrono::NaiveDate;
use gridwork_core::new_id;
use gridwork_core::seed;
use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::model::*;
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::validate::Position;
use gridwork_domain::workflow::{CaseAction, CaseEvent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// One day, in ms.
pub const DAY_MS: u64 = 24 * 3_600_000;

/// Now, in ms since the epoch.
pub fn now_ms() -> u64 {
    gridwork_server::clock::now_ms()
}

/// Stamps operations for one writer: strictly increasing, starting in the past so that no
/// receiver refuses them as stamped ahead.
#[derive(Debug, Clone)]
pub struct Writer {
    pub device: DeviceId,
    ms: u64,
    counter: u16,
}

impl Writer {
    /// A writer whose first stamp is `start_ms`.
    pub fn new(device: DeviceId, start_ms: u64) -> Writer {
        Writer {
            device,
            ms: start_ms,
            counter: 0,
        }
    }

    /// The next stamp.
    pub fn stamp(&mut self) -> Stamp {
        self.counter += 1;
        if self.counter >= 60_000 {
            self.ms += 1;
            self.counter = 0;
        }
        Stamp::new(Hlc::new(self.ms, self.counter), self.device)
    }

    /// Moves this writer's clock to `ms` (never back).
    pub fn advance_to(&mut self, ms: u64) {
        if ms > self.ms {
            self.ms = ms;
            self.counter = 0;
        }
    }

    /// The operation creating `value`: every field written, no base.
    pub fn create<T: Entity + serde::Serialize>(&mut self, value: &T) -> Op {
        let Value::Object(obj) = serde_json::to_value(value).expect("a model serializes") else {
            unreachable!("model types serialize to objects")
        };
        let fields = obj
            .into_iter()
            .filter(|(k, _)| k != "id")
            .map(|(k, value)| (k, FieldWrite { value, base: None }))
            .collect();
        Op {
            id: new_id(),
            stamp: self.stamp(),
            entity: T::KIND,
            entity_id: value.id(),
            body: OpBody::Set { fields },
        }
    }

    /// A field update of one record, each field with the stamp it overwrote.
    pub fn update(
        &mut self,
        entity: EntityKind,
        entity_id: Id,
        fields: Vec<(String, Value, Option<Stamp>)>,
    ) -> Op {
        Op {
            id: new_id(),
            stamp: self.stamp(),
            entity,
            entity_id,
            body: OpBody::Set {
                fields: fields
                    .into_iter()
                    .map(|(k, value, base)| (k, FieldWrite { value, base }))
                    .collect(),
            },
        }
    }

    /// A case event.
    pub fn event(&mut self, case_id: Id, action: CaseAction) -> Op {
        let stamp = self.stamp();
        Op {
            id: new_id(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case_id,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: new_id(),
                    case_id,
                    stamp,
                    actor: None,
                    action,
                },
            },
        }
    }
}

/// How big a subdistrict to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub grids: usize,
    pub buildings: usize,
    pub households: usize,
    pub residents: usize,
    pub cases: usize,
}

impl Size {
    /// One gridworker's grid (the figures).
    pub const GRID: Size = Size {
        grids: 1,
        buildings: 100,
        households: 500,
        residents: 1_500,
        cases: 300,
    };
    /// A subdistrict (the figures; 186 grids as in Chengxiang).
    pub const SUBDISTRICT: Size = Size {
        grids: 186,
        buildings: 5_000,
        households: 90_000,
        residents: 250_000,
        cases: 20_000,
    };

    /// Every record it makes (areas and stations not counted).
    pub fn records(&self) -> usize {
        self.buildings + self.households + self.residents + self.cases
    }
}

/// A made subdistrict: its operations in creation order, and ids to pick from.
#[derive(Debug, Clone, Default)]
pub struct Subdistrict {
    pub ops: Vec<Op>,
    pub subdistrict: Id,
    pub grids: Vec<Id>,
    pub stations: Vec<Id>,
    /// Buildings with the index of their grid.
    pub buildings: Vec<(Id, usize)>,
    /// Households with the index of their building.
    pub households: Vec<(Id, usize)>,
    pub residents: usize,
    pub cases: usize,
    /// Areas (district, subdistrict, layers, communities, grids, micro-grids).
    pub areas: usize,
}

/// Makes a subdistrict of `size`, stamped by `writer`, the same for the same `seed`.
pub fn subdistrict(writer: &mut Writer, size: Size, seed: u64) -> Subdistrict {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Subdistrict::default();
    let area = |out: &mut Subdistrict,
                w: &mut Writer,
                level: AreaLevel,
                code: String,
                name: String,
                parent: Option<Id>| {
        let a = Area {
            id: new_id(),
            level,
            code,
            name,
            parent_id: parent,
            response_policies: vec![],
        };
        out.ops.push(w.create(&a));
        out.areas += 1;
        a
    };
    let district = area(
        &mut out,
        writer,
        AreaLevel::District,
        "330106".into(),
        "西湖区".into(),
        None,
    );
    let sub = area(
        &mut out,
        writer,
        AreaLevel::Subdistrict,
        "330106001".into(),
        "北山街道".into(),
        Some(district.id),
    );
    out.subdistrict = sub.id;
    let origin = (30.259, 120.140);
    // Five or six grids to a community, three communities to a grid layer, as in the brief.
    let communities = size.grids.div_ceil(6).max(1);
    let layers = communities.div_ceil(3).max(1);
    let mut layer_ids = Vec::new();
    for l in 0..layers {
        let layer = area(
            &mut out,
            writer,
            AreaLevel::GridLayer,
            format!("330106001L{:02}", l + 1),
            format!("第{}网层", l + 1),
            Some(sub.id),
        );
        layer_ids.push(layer.id);
    }
    let mut grid_codes = Vec::new();
    let mut grid_station = Vec::new();
    let mut grid_micro = Vec::new();
    let mut grid_centre = Vec::new();
    for c in 0..communities {
        let community = area(
            &mut out,
            writer,
            AreaLevel::Community,
            format!("330106001{:03}", c + 1),
            format!("第{}社区", c + 1),
            Some(layer_ids[c / 3]),
        );
        let centre = (
            origin.0 + 0.01 * (c % 20) as f64,
            origin.1 + 0.008 * (c / 20) as f64,
        );
        let station = Station {
            id: new_id(),
            name: format!("第{}社区微型消防站", c + 1),
            area_id: community.id,
            position: Position::new("station.position", centre.0, centre.1).expect("in range"),
            phone: Some(format!("0571-8{:07}", rng.random_range(0..10_000_000u32))),
        };
        out.ops.push(writer.create(&station));
        out.stations.push(station.id);
        let grids_here = (c + 1) * size.grids / communities - c * size.grids / communities;
        for g in 0..grids_here {
            let grid = area(
                &mut out,
                writer,
                AreaLevel::Grid,
                format!("{}{:03}", community.code, g + 1),
                format!("第{}社区第{}网格", c + 1, g + 1),
                Some(community.id),
            );
            let micro = area(
                &mut out,
                writer,
                AreaLevel::MicroGrid,
                format!("{}001", grid.code),
                format!("第{}社区第{}网格一号微网格", c + 1, g + 1),
                Some(grid.id),
            );
            out.grids.push(grid.id);
            grid_codes.push(grid.code);
            grid_station.push(station.id);
            grid_micro.push(micro.id);
            grid_centre.push(centre);
        }
    }
    let mut per_grid = vec![0usize; out.grids.len()];
    for b in 0..size.buildings {
        let g = b % out.grids.len();
        per_grid[g] += 1;
        let centre = grid_centre[g];
        let kind = match rng.random_range(0..10) {
            0..=4 => BuildingKind::Residential,
            5..=7 => BuildingKind::Rental,
            8 => BuildingKind::MixedUse,
            _ => BuildingKind::Shop,
        };
        let building = Building {
            id: new_id(),
            address_code: format!("{}{:04}", grid_codes[g], per_grid[g]),
            address: format!("{}号楼", b + 1),
            kind,
            grid_id: out.grids[g],
            micro_grid_id: Some(grid_micro[g]),
            head_user_id: None,
            station_id: Some(grid_station[g]),
            position: Some(
                Position::new(
                    "building.position",
                    centre.0 + rng.random_range(-0.004..0.004),
                    centre.1 + rng.random_range(-0.004..0.004),
                )
                .expect("in range"),
            ),
        };
        out.ops.push(writer.create(&building));
        out.buildings.push((building.id, g));
    }
    for h in 0..size.households {
        let b = h % out.buildings.len();
        // The k-th household of its building: one unit each (a server refuses a second
        // household on a unit of a building), two flats a floor, five floors a stairwell.
        let k = h / out.buildings.len();
        let household = Household {
            id: new_id(),
            building_id: out.buildings[b].0,
            unit: format!("{}-{}0{}", k / 10 + 1, k % 10 / 2 + 1, k % 2 + 1),
            kind: HouseholdKind::ALL[rng.random_range(0..HouseholdKind::ALL.len())],
            phone: Some(mobile(&mut rng)),
            archived: false,
        };
        out.ops.push(writer.create(&household));
        out.households.push((household.id, b));
    }
    let mut serial = 0u16;
    for r in 0..size.residents {
        let hh = out.households[r % out.households.len()].0;
        let year = rng.random_range(1940..2020);
        let birth =
            NaiveDate::from_ymd_opt(year, rng.random_range(1..=12), rng.random_range(1..=28))
                .unwrap_or_default();
        serial = serial.wrapping_add(1);
        let resident = Resident {
            id: new_id(),
            household_id: hh,
            name: seed::name(&mut rng),
            id_number: Some(seed::id_number(birth, serial)),
            phone: (year < 2008).then(|| mobile(&mut rng)),
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        };
        out.ops.push(writer.create(&resident));
        out.residents += 1;
    }
    let opened = now_ms().saturating_sub(3 * DAY_MS);
    for c in 0..size.cases {
        let (building, g) = out.buildings[(c * 7) % out.buildings.len()];
        let case = Case {
            id: new_id(),
            kind: CaseKind::Hazard,
            title: "电动车楼道充电".into(),
            category: "ebike_indoors".into(),
            severity: Severity::ALL[c % Severity::ALL.len()],
            area_id: out.grids[g],
            building_id: Some(building),
            household_id: None,
            position: None,
            opened_at_ms: opened + c as u64,
            patrol_id: None,
        };
        out.ops.push(writer.create(&case));
        out.ops.push(writer.event(
            case.id,
            CaseAction::Assign {
                assignee: None,
                deadline_ms: None,
            },
        ));
        out.cases += 1;
    }
    out
}

/// A mobile number.
pub fn mobile(rng: &mut impl Rng) -> String {
    format!(
        "13{}{:08}",
        rng.random_range(0..10),
        rng.random_range(0..100_000_000u32)
    )
}

/// Households only (no buildings, no areas): the records the apply scenarios update.
pub fn households(writer: &mut Writer, n: usize, seed: u64) -> (Vec<Op>, Vec<Id>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let buildings: Vec<Id> = (0..n.div_ceil(18)).map(|_| new_id()).collect();
    let mut ops = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for h in 0..n {
        let household = Household {
            id: new_id(),
            building_id: buildings[h / 18],
            unit: format!("{}-{}0{}", h / 40 % 30 + 1, h % 4 + 1, h % 2 + 1),
            kind: HouseholdKind::ALL[rng.random_range(0..HouseholdKind::ALL.len())],
            phone: Some(mobile(&mut rng)),
            archived: false,
        };
        ids.push(household.id);
        ops.push(writer.create(&household));
    }
    ops.sort_by_key(|o| o.entity_id);
    ids.sort();
    (ops, ids)
}

/// Field updates of random households by several writers, interleaved in stamp order as a
/// server would send them: each changes one or two of phone, kind, unit. Every update carries
/// the stamp it overwrote (as a writer that had synced would), so none is a conflict.
#[derive(Debug)]
pub struct Updates {
    writers: Vec<Writer>,
    known: HashMap<(Id, &'static str), Stamp>,
    rng: StdRng,
}

impl Updates {
    /// `writers` writers, stamping after `after_ms`.
    pub fn new(writers: usize, after_ms: u64, seed: u64) -> Updates {
        Updates {
            writers: (0..writers)
                .map(|_| Writer::new(new_id(), after_ms))
                .collect(),
            known: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The writers' device ids.
    pub fn devices(&self) -> Vec<DeviceId> {
        self.writers.iter().map(|w| w.device).collect()
    }

    /// `n` updates of records picked at random from `ids`.
    pub fn make(&mut self, ids: &[Id], n: usize) -> Vec<Op> {
        const FIELDS: [&str; 3] = ["phone", "kind", "unit"];
        let mut ops = Vec::with_capacity(n);
        for i in 0..n {
            let w = i % self.writers.len();
            let id = ids[self.rng.random_range(0..ids.len())];
            let count = 1 + usize::from(self.rng.random_range(0..4) == 0);
            let first = self.rng.random_range(0..FIELDS.len());
            let mut fields = Vec::new();
            for f in 0..count {
                let name = FIELDS[(first + f) % FIELDS.len()];
                let value = match name {
                    "phone" => Value::String(mobile(&mut self.rng)),
                    "kind" => serde_json::to_value(
                        HouseholdKind::ALL[self.rng.random_range(0..HouseholdKind::ALL.len())],
                    )
                    .expect("serializes"),
                    _ => Value::String(format!(
                        "{}-{}0{}",
                        self.rng.random_range(1..30),
                        self.rng.random_range(1..5),
                        self.rng.random_range(1..3)
                    )),
                };
                fields.push((
                    name.to_string(),
                    value,
                    self.known.get(&(id, name)).copied(),
                ));
            }
            let op = self.writers[w].update(EntityKind::Household, id, fields.clone());
            // Every writer has seen the others' earlier writes (they sync), so the next
            // writer's clock moves past this stamp.
            let writers = self.writers.len();
            let next = &mut self.writers[(w + 1) % writers];
            next.advance_to(op.stamp.hlc.physical_ms() + 1);
            for (name, _, _) in &fields {
                let name = FIELDS.iter().find(|f| *f == name).expect("known field");
                self.known.insert((id, name), op.stamp);
            }
            ops.push(op);
        }
        ops
    }

    /// Operations that lose to what is stored: the same writes stamped before any of them
    /// (new operation ids), as a device far behind would send.
    pub fn stale_copies(ops: &[Op], device: DeviceId, at_ms: u64) -> Vec<Op> {
        let mut w = Writer::new(device, at_ms);
        ops.iter()
            .map(|op| {
                let mut copy = op.clone();
                copy.id = new_id();
                copy.stamp = w.stamp();
                if let OpBody::Set { fields } = &mut copy.body {
                    for f in fields.values_mut() {
                        f.base = None;
                    }
                }
                copy
            })
            .collect()
    }
}
