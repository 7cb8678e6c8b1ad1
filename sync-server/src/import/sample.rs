//! A made-up subdistrict's files in the importer's templates: 祥符街道 of 拱墅区, Hangzhou,
//! with communities, grids, micro fire stations, buildings on real street names with unified
//! address codes and positions, households, residents with valid ID numbers and phones, and the
//! team's users. The codes, buildings and people are invented; the same seed and size give the
//! same files. The sample shipped in `samples/xiangfu/` (the README's walkthrough) is
//! [`SampleSize::README`] with seed 1 (a test checks it); the import benchmark writes
//! [`SampleSize::city`] files.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use gridwork_domain::validate::resident_id;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How big a subdistrict to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSize {
    pub communities: usize,
    /// Grids per community.
    pub grids: usize,
    /// Buildings per grid.
    pub buildings: usize,
    /// Households per building.
    pub households: usize,
}

impl SampleSize {
    /// The README's sample: 2 communities, 3 grids, 12 buildings, 48 households.
    pub const README: SampleSize = SampleSize {
        communities: 2,
        grids: 2,
        buildings: 3,
        households: 4,
    };

    /// At least about `residents` residents (2.25 a household on average: 1 to 4 people in
    /// nine rooms of ten, the tenth vacant), in grids of 40 buildings of 40 households.
    pub fn city(residents: usize) -> SampleSize {
        let households = (residents * 4).div_ceil(9);
        let buildings = households.div_ceil(40);
        let grids = buildings.div_ceil(40);
        let communities = grids.div_ceil(8).clamp(1, 99);
        SampleSize {
            communities,
            grids: grids.div_ceil(communities),
            buildings: 40,
            households: 40,
        }
    }
}

/// The numbers of what was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub areas: usize,
    pub stations: usize,
    pub buildings: usize,
    pub households: usize,
    pub residents: usize,
    pub users: usize,
}

const DISTRICT: (&str, &str) = ("330105", "拱墅区");
const SUBDISTRICT: (&str, &str) = ("330105012", "祥符街道");
const COMMUNITIES: &[&str] = &["申慧", "祥符桥", "申悦", "蓝孔雀"];
const ROADS: &[&str] = &[
    "申花路",
    "祥园路",
    "丰潭路",
    "莫干山路",
    "石祥路",
    "花园岗街",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "文", "华", "玉兰", "志强", "海燕", "晓东",
    "婷",
];
/// The team's users of the README's sample, by the grid (or place) they work.
pub const TEAM: [&str; 5] = ["王芳", "李强", "张伟", "陈明", "赵敏"];

fn community_name(i: usize) -> String {
    match COMMUNITIES.get(i) {
        Some(n) => format!("{n}社区"),
        None => format!(
            "{}{}社区",
            COMMUNITIES[i % COMMUNITIES.len()],
            i / COMMUNITIES.len() + 1
        ),
    }
}

fn person(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES[rng.random_range(0..SURNAMES.len())],
        GIVEN[rng.random_range(0..GIVEN.len())]
    )
}

fn mobile(rng: &mut StdRng) -> String {
    format!(
        "1{}{:09}",
        [3, 5, 7, 8, 9][rng.random_range(0..5)],
        rng.random_range(0..1_000_000_000u32)
    )
}

/// A valid ID number, a different one for each `serial` below 30 million: the birth day runs
/// over 30,000 days (from 1940) in a stride that visits each once, the serial part counts the
/// rounds (born in 拱墅区 330105 or 西湖区 330106).
fn id_number(serial: usize) -> String {
    let day = (serial * 7919) % 30_000;
    let born =
        NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default() + chrono::Days::new(day as u64);
    let region = ["330105", "330106"][serial % 2];
    let first17 = format!(
        "{region}{}{:03}",
        born.format("%Y%m%d"),
        serial / 30_000 % 1000
    );
    let check = resident_id::check_digit(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// Writes the six files of a subdistrict of `size` into `dir` (created if missing).
pub fn write(dir: &Path, size: SampleSize, seed: u64) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = Written::default();
    let (mut areas, mut stations, mut buildings, mut households, mut residents, mut users) = (
        String::from("区域编码,区域名称,层级,上级编码\n"),
        String::from("消防站名称,所属区域编码,纬度,经度,电话\n"),
        String::from("地址编码,地址,类型,网格编码,微网格编码,消防站,纬度,经度\n"),
        String::from("地址编码,房号,类型,电话\n"),
        String::from("姓名,身份证号,电话,地址编码,房号,重点人群\n"),
        String::from("姓名,角色,范围\n"),
    );
    let layer = format!("{}L01", SUBDISTRICT.0);
    let _ = writeln!(areas, "{},{},区,", DISTRICT.0, DISTRICT.1);
    let _ = writeln!(
        areas,
        "{},{},街道,{}",
        SUBDISTRICT.0, SUBDISTRICT.1, DISTRICT.0
    );
    let _ = writeln!(areas, "{layer},第一网层,网层,{}", SUBDISTRICT.0);
    n.areas += 3;
    let mut serial = 0usize;
    let mut first_grid = vec![];
    let mut first_building = None;
    let mut first_station = None;
    for c in 0..size.communities {
        let community = format!("{}{:03}", SUBDISTRICT.0, c + 1);
        let cname = community_name(c);
        let _ = writeln!(areas, "{community},{cname},社区,{layer}");
        n.areas += 1;
        let station = format!("{cname}微型消防站");
        let (lat0, lon0) = (
            30.31 + 0.01 * (c % 10) as f64,
            120.12 + 0.01 * (c / 10) as f64,
        );
        let _ = writeln!(
            stations,
            "{station},{community},{lat0:.5},{lon0:.5},{}",
            format_args!(
                "0571{}{:07}",
                rng.random_range(2..=8u32),
                rng.random_range(0..10_000_000u32)
            )
        );
        n.stations += 1;
        first_station.get_or_insert(station.clone());
        for g in 0..size.grids {
            let grid = format!("{community}{:03}", g + 1);
            let _ = writeln!(areas, "{grid},{cname}第{}网格,网格,{community}", g + 1);
            n.areas += 1;
            if first_grid.len() < 2 {
                first_grid.push(grid.clone());
            }
            let road = ROADS[(c * size.grids + g) % ROADS.len()];
            for b in 0..size.buildings {
                let code = format!("{grid}{:04}", b + 1);
                let kind = match b % 5 {
                    0..=2 => "住宅",
                    3 => "出租",
                    _ => "商住",
                };
                let lat = lat0 + 0.0004 * g as f64 + 0.00003 * b as f64;
                let lon = lon0 + 0.0005 * (b % 20) as f64;
                let _ = writeln!(
                    buildings,
                    "{code},{road}{}号{}幢,{kind},,,{station},{lat:.6},{lon:.6}",
                    (c * size.grids + g) * 2 + 10,
                    b + 1
                );
                n.buildings += 1;
                first_building.get_or_insert(code.clone());
                for h in 0..size.households {
                    let unit = format!("{}-{}{:02}", h / 20 + 1, h % 20 / 2 + 1, h % 2 + 1);
                    let kind = match rng.random_range(0..10) {
                        0..=5 => "自住",
                        6..=8 => "出租",
                        _ => "空置",
                    };
                    let _ = writeln!(households, "{code},{unit},{kind},{}", mobile(&mut rng));
                    n.households += 1;
                    let people = if kind == "空置" {
                        0
                    } else {
                        rng.random_range(1..=4)
                    };
                    for _ in 0..people {
                        serial += 1;
                        let number = id_number(serial);
                        let born: u32 = number[6..10].parse().unwrap_or(1980);
                        // Key groups as the ages allow: the elderly living alone born before
                        // 1960, left-behind children after 2010, disability at any age.
                        let groups = match rng.random_range(0..30) {
                            0 if born < 1960 => "独居老人",
                            1 if born > 2010 => "留守儿童",
                            2 => "残疾人",
                            _ => "",
                        };
                        let _ = writeln!(
                            residents,
                            "{},{number},{},{code},{unit},{groups}",
                            person(&mut rng),
                            mobile(&mut rng)
                        );
                        n.residents += 1;
                    }
                }
            }
        }
    }
    // The team: a gridworker for each of the first two grids, the first building's head, the
    // first station's crew, the subdistrict's dispatcher.
    let grid_two = first_grid
        .get(1)
        .or(first_grid.first())
        .cloned()
        .unwrap_or_default();
    for (name, role, scope) in [
        (
            TEAM[0],
            "网格员",
            first_grid.first().cloned().unwrap_or_default(),
        ),
        (TEAM[1], "网格员", grid_two),
        (TEAM[2], "楼长", first_building.unwrap_or_default()),
        (TEAM[3], "消防队员", first_station.unwrap_or_default()),
        (TEAM[4], "调度员", SUBDISTRICT.0.to_string()),
    ] {
        let _ = writeln!(users, "{name},{role},{scope}");
        n.users += 1;
    }
    for (file, text) in [
        ("区域.csv", areas),
        ("消防站.csv", stations),
        ("楼栋.csv", buildings),
        ("房屋.csv", households),
        ("居民.csv", residents),
        ("用户.csv", users),
    ] {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(n)
}
