//! A realistic subdistrict made up from a seed: areas with nested codes, buildings with unified
//! address codes, households, residents with valid ID numbers and phones, tenants registered
//! hotel-style (most, not all), micro fire stations. Used by `gridwork demo`, the benchmarks and
//! the tests; the same seed gives the same data.
//!
//! The places are real: 祥符街道 of 拱墅区, Hangzhou, and the communities the source reports
//! name there (申慧, 祥符桥, 申悦, 蓝孔雀). The codes, buildings and people are made up.

use chrono::NaiveDate;
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::validate::{Position, resident_id};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::error::Result;
use crate::gridwork::Gridwork;

/// How big a subdistrict to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSize {
    pub grid_layers: usize,
    /// Communities per grid layer.
    pub communities: usize,
    /// Grids per community.
    pub grids: usize,
    /// Buildings per grid.
    pub buildings: usize,
    /// Households per building.
    pub households: usize,
    /// Micro fire stations per community.
    pub stations: usize,
}

impl SeedSize {
    /// One grid, a handful of buildings: unit tests.
    pub const TINY: SeedSize = SeedSize {
        grid_layers: 1,
        communities: 1,
        grids: 1,
        buildings: 4,
        households: 3,
        stations: 1,
    };
    /// The demo: 2 layers × 2 communities × 2 grids × 40 buildings × 8 households
    /// (320 buildings, 2,560 households, ~5,800 residents).
    pub const DEMO: SeedSize = SeedSize {
        grid_layers: 2,
        communities: 2,
        grids: 2,
        buildings: 40,
        households: 8,
        stations: 1,
    };
}

/// What was made, for the caller to pick records from.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub district: Option<Area>,
    pub subdistrict: Option<Area>,
    pub communities: Vec<Area>,
    pub grids: Vec<Area>,
    pub micro_grids: Vec<Area>,
    pub stations: Vec<Station>,
    pub buildings: Vec<Building>,
    pub households: Vec<Household>,
    pub residents: Vec<Resident>,
    pub registrations: Vec<Registration>,
}

const DAY_MS: u64 = 24 * 3_600_000;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "文", "华", "玉兰", "志强", "海燕", "晓东",
    "婷",
];
/// The communities of 祥符街道 (拱墅区) the source reports name; a fifth community and beyond
/// get a number after the name.
const COMMUNITY_NAMES: &[&str] = &["申慧", "祥符桥", "申悦", "蓝孔雀"];

/// The district and subdistrict the seed sits in: 拱墅区 and its 祥符街道. The district code is
/// 拱墅区's administrative code; the subdistrict's three digits are made up.
pub const DISTRICT: (&str, &str) = ("330105", "拱墅区");
pub const SUBDISTRICT: (&str, &str) = ("330105012", "祥符街道");

/// A valid resident ID number for a birth date and a serial (registered in 西湖区, 330106:
/// people are born elsewhere than they live).
pub fn id_number(birth: NaiveDate, serial: u16) -> String {
    let first17 = format!("330106{}{:03}", birth.format("%Y%m%d"), serial % 1000);
    let check = resident_id::check_digit(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A Chinese name drawn from common surnames and given names.
pub fn name(rng: &mut impl Rng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

fn mobile(rng: &mut impl Rng) -> String {
    format!(
        "1{}{:09}",
        [3, 5, 7, 8, 9][rng.random_range(0..5)],
        rng.random_range(0..1_000_000_000u32)
    )
}

fn area(
    gw: &Gridwork,
    level: AreaLevel,
    code: String,
    name: String,
    parent: Option<Id>,
) -> Result<Area> {
    gw.create(Area {
        id: Uuid::nil(),
        level,
        code,
        name,
        parent_id: parent,
        response_policies: vec![],
    })
}

/// Seeds a subdistrict of the given size into `gw` (which must be allowed to create areas).
/// `progress` is called after each building with (buildings done, buildings in all).
pub fn seed_subdistrict(
    gw: &Gridwork,
    seed: u64,
    size: SeedSize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Seeded::default();
    let now_ms = gw.now_ms();
    // Registration days are China local dates.
    let today = chrono::DateTime::from_timestamp_millis(now_ms as i64 + 8 * 3_600_000)
        .map(|d| d.date_naive())
        .unwrap_or_default();
    let district = area(
        gw,
        AreaLevel::District,
        DISTRICT.0.into(),
        DISTRICT.1.into(),
        None,
    )?;
    let sub = area(
        gw,
        AreaLevel::Subdistrict,
        SUBDISTRICT.0.into(),
        SUBDISTRICT.1.into(),
        Some(district.id),
    )?;
    let total = size.grid_layers * size.communities * size.grids * size.buildings;
    // 祥符, north of the city centre.
    let origin = (30.318, 120.128);
    let mut serial = 0u16;
    for l in 0..size.grid_layers {
        let layer = area(
            gw,
            AreaLevel::GridLayer,
            format!("{}L{:02}", SUBDISTRICT.0, l + 1),
            format!("第{}网层", l + 1),
            Some(sub.id),
        )?;
        for c in 0..size.communities {
            let n = l * size.communities + c;
            let cname = match n / COMMUNITY_NAMES.len() {
                0 => COMMUNITY_NAMES[n].to_string(),
                round => format!(
                    "{}{}",
                    COMMUNITY_NAMES[n % COMMUNITY_NAMES.len()],
                    round + 1
                ),
            };
            let community = area(
                gw,
                AreaLevel::Community,
                format!("{}{:03}", SUBDISTRICT.0, n + 1),
                format!("{cname}社区"),
                Some(layer.id),
            )?;
            let centre = (
                origin.0 + 0.01 * n as f64,
                origin.1 + 0.008 * (n % 3) as f64,
            );
            for s in 0..size.stations {
                let station = gw.create(Station {
                    id: Uuid::nil(),
                    name: format!("{cname}微型消防站{}", s + 1),
                    area_id: community.id,
                    position: Position::new(
                        "station.position",
                        centre.0 + 0.001 * s as f64,
                        centre.1,
                    )?,
                    phone: Some(format!("0571-8{:07}", rng.random_range(0..10_000_000u32))),
                })?;
                out.stations.push(station);
            }
            for g in 0..size.grids {
                let grid = area(
                    gw,
                    AreaLevel::Grid,
                    format!("{}{:03}", community.code, g + 1),
                    format!("{cname}第{}网格", g + 1),
                    Some(community.id),
                )?;
                let micro = area(
                    gw,
                    AreaLevel::MicroGrid,
                    format!("{}001", grid.code),
                    format!("{cname}第{}网格一号微网格", g + 1),
                    Some(grid.id),
                )?;
                for b in 0..size.buildings {
                    let kind = match rng.random_range(0..10) {
                        0..=4 => BuildingKind::Residential,
                        5..=7 => BuildingKind::Rental,
                        8 => BuildingKind::MixedUse,
                        _ => BuildingKind::Shop,
                    };
                    let position = Position::new(
                        "building.position",
                        centre.0 + rng.random_range(-0.004..0.004),
                        centre.1 + rng.random_range(-0.004..0.004),
                    )?;
                    let building = gw.create(Building {
                        id: Uuid::nil(),
                        address_code: format!("{}{:04}", grid.code, b + 1),
                        address: format!("{cname}社区{}幢", g * size.buildings + b + 1),
                        kind,
                        grid_id: grid.id,
                        micro_grid_id: Some(micro.id),
                        head_user_id: None,
                        station_id: out.stations.last().map(|s| s.id),
                        position: Some(position),
                    })?;
                    for h in 0..size.households {
                        let hkind = match (kind, rng.random_range(0..10)) {
                            (_, 0) => HouseholdKind::Vacant,
                            (BuildingKind::Rental, 1..=2) => HouseholdKind::GroupRental,
                            (BuildingKind::Rental | BuildingKind::MixedUse, _) => {
                                HouseholdKind::Rental
                            }
                            (_, 1..=2) => HouseholdKind::Rental,
                            _ => HouseholdKind::OwnerOccupied,
                        };
                        let household = gw.create(Household {
                            id: Uuid::nil(),
                            building_id: building.id,
                            unit: format!("{}-{}0{}", h / 4 + 1, h % 4 + 1, h % 2 + 1),
                            kind: hkind,
                            phone: Some(mobile(&mut rng)),
                            archived: false,
                        })?;
                        let people = if hkind == HouseholdKind::Vacant {
                            0
                        } else {
                            rng.random_range(1..=4)
                        };
                        let mut room_registered = false;
                        for p in 0..people {
                            let year = if p == 0 {
                                rng.random_range(1940..2000)
                            } else {
                                rng.random_range(1950..2020)
                            };
                            let birth = NaiveDate::from_ymd_opt(
                                year,
                                rng.random_range(1..=12),
                                rng.random_range(1..=28),
                            )
                            .unwrap_or_default();
                            serial = serial.wrapping_add(1);
                            let mut key_groups = Vec::new();
                            if people == 1 && year < 1956 {
                                key_groups.push(KeyGroup::ElderlyLivingAlone);
                            }
                            if year > 2012 && rng.random_range(0..4) == 0 {
                                key_groups.push(KeyGroup::LeftBehindChild);
                            }
                            // Most key-group residents were visited within the last week or
                            // so; some are overdue.
                            let last_visit_ms = (!key_groups.is_empty()
                                && rng.random_range(0..10) < 8)
                                .then(|| now_ms.saturating_sub(rng.random_range(0..9 * DAY_MS)));
                            let resident = gw.create(Resident {
                                id: Uuid::nil(),
                                household_id: household.id,
                                name: name(&mut rng),
                                id_number: Some(id_number(birth, serial)),
                                phone: (year < 2008).then(|| mobile(&mut rng)),
                                key_groups,
                                last_visit_ms,
                                archived: false,
                            })?;
                            // Hotel-style registration of the tenants of most rented rooms;
                            // in a registered room about half the lodgers have not registered
                            // (Caima keeps 100%; most communities do not).
                            if p == 0 {
                                room_registered = rng.random_range(0..100) < 92;
                            }
                            if hkind.is_rental()
                                && room_registered
                                && (p == 0 || rng.random_range(0..100) < 50)
                            {
                                let check_in = today - chrono::Days::new(rng.random_range(1..200));
                                out.registrations.push(gw.create(Registration {
                                    id: Uuid::nil(),
                                    resident_id: resident.id,
                                    household_id: household.id,
                                    check_in,
                                    expected_end: check_in.checked_add_days(chrono::Days::new(
                                        [180, 365, 365][rng.random_range(0..3)],
                                    )),
                                    check_out: None,
                                })?);
                            }
                            out.residents.push(resident);
                        }
                        out.households.push(household);
                    }
                    out.buildings.push(building);
                    progress(out.buildings.len(), total);
                }
                out.grids.push(grid);
                out.micro_grids.push(micro);
            }
            out.communities.push(community);
        }
    }
    out.district = Some(district);
    out.subdistrict = Some(sub);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpenOptions;

    #[test]
    fn the_same_seed_makes_the_same_subdistrict() {
        let a = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let b = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let sa = seed_subdistrict(&a, 7, SeedSize::TINY, |_, _| {}).unwrap();
        let sb = seed_subdistrict(&b, 7, SeedSize::TINY, |_, _| {}).unwrap();
        assert_eq!(sa.buildings.len(), 4);
        assert_eq!(sa.households.len(), 12);
        let names = |s: &Seeded| {
            s.residents
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&sa), names(&sb));
        for r in &sa.residents {
            assert!(resident_id::ResidentId::parse("id", r.id_number.as_ref().unwrap()).is_ok());
        }
    }
}
