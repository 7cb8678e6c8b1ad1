//! A small subdistrict for tests: one district → subdistrict → grid layer → community → grid →
//! micro-grid, with buildings, households and residents that have valid ID numbers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridwork_core::{Gridwork, OpenOptions};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::validate::resident_id;
use uuid::Uuid;

/// 2026-11-23 09:00 China time, in ms.
pub const MORNING_MS: u64 = 1_795_395_600_000;

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(pub Arc<AtomicU64>);

impl TestClock {
    pub fn at(ms: u64) -> TestClock {
        TestClock(Arc::new(AtomicU64::new(ms)))
    }
    pub fn advance_minutes(&self, m: u64) {
        self.0.fetch_add(m * 60_000, Ordering::SeqCst);
    }
    pub fn options(&self) -> OpenOptions {
        let c = self.0.clone();
        OpenOptions {
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            ..OpenOptions::default()
        }
    }
}

/// A valid 18-digit resident ID number for a birth date and a serial.
pub fn id_number(birth: &str, serial: u16) -> String {
    let first17 = format!("330106{birth}{serial:03}");
    let check = resident_id::check_digit(&first17).expect("17 digits");
    format!("{first17}{check}")
}

pub struct Grid {
    pub subdistrict: Area,
    pub community: Area,
    pub grid: Area,
    pub micro: Area,
    pub buildings: Vec<Building>,
}

fn area(gw: &Gridwork, level: AreaLevel, code: &str, name: &str, parent: Option<Id>) -> Area {
    gw.create(Area {
        id: Uuid::nil(),
        level,
        code: code.into(),
        name: name.into(),
        parent_id: parent,
        response_policies: vec![],
    })
    .unwrap()
}

/// 西湖区 → 北山街道 → 第一网层 → 梅花碑社区 → 第一网格 → 微网格, with `n` buildings.
pub fn grid_with_buildings(gw: &Gridwork, n: usize) -> Grid {
    let district = area(gw, AreaLevel::District, "330106", "西湖区", None);
    let sub = area(
        gw,
        AreaLevel::Subdistrict,
        "330106001",
        "北山街道",
        Some(district.id),
    );
    let layer = area(
        gw,
        AreaLevel::GridLayer,
        "330106001L01",
        "第一网层",
        Some(sub.id),
    );
    let community = area(
        gw,
        AreaLevel::Community,
        "330106001001",
        "梅花碑社区",
        Some(layer.id),
    );
    let grid = area(
        gw,
        AreaLevel::Grid,
        "330106001001001",
        "梅花碑第一网格",
        Some(community.id),
    );
    let micro = area(
        gw,
        AreaLevel::MicroGrid,
        "330106001001001001",
        "一号微网格",
        Some(grid.id),
    );
    let buildings = (1..=n)
        .map(|i| {
            gw.create(Building {
                id: Uuid::nil(),
                address_code: format!("330106001001001{i:04}"),
                address: format!("梅花碑社区{i}幢"),
                kind: if i % 3 == 0 {
                    BuildingKind::Rental
                } else {
                    BuildingKind::Residential
                },
                grid_id: grid.id,
                micro_grid_id: Some(micro.id),
                head_user_id: None,
                station_id: None,
                position: None,
            })
            .unwrap()
        })
        .collect();
    Grid {
        subdistrict: sub,
        community,
        grid,
        micro,
        buildings,
    }
}

pub fn household(gw: &Gridwork, building: Id, unit: &str, kind: HouseholdKind) -> Household {
    gw.create(Household {
        id: Uuid::nil(),
        building_id: building,
        unit: unit.into(),
        kind,
        phone: None,
        archived: false,
    })
    .unwrap()
}

pub fn resident(gw: &Gridwork, household: Id, name: &str, id_number: &str) -> Resident {
    gw.create(Resident {
        id: Uuid::nil(),
        household_id: household,
        name: name.into(),
        id_number: Some(id_number.into()),
        phone: None,
        key_groups: vec![],
        last_visit_ms: None,
        archived: false,
    })
    .unwrap()
}

pub fn hazard(grid: &Grid, building: Id, title: &str, severity: Severity) -> Case {
    Case {
        id: Uuid::nil(),
        kind: CaseKind::Hazard,
        title: title.into(),
        category: "fire".into(),
        severity,
        area_id: grid.grid.id,
        building_id: Some(building),
        household_id: None,
        position: None,
        opened_at_ms: 0,
        patrol_id: None,
    }
}

/// Every file of a store (the database, its write-ahead log and its index, where they exist),
/// read whole, by suffix.
pub fn store_file_bytes(db: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .into_iter()
        .filter_map(|suffix| {
            let path = format!("{}{suffix}", db.display());
            std::fs::read(&path).ok().map(|b| (suffix.to_string(), b))
        })
        .collect()
}

/// Unlocks a raw SQLite connection to an encrypted store with `key`, its pages authenticated
/// with `mac` (`"HMAC_SHA256"` for stores made now, `"HMAC_SHA512"` before ADR 0056): what the
/// tests that read or damage a store's pages directly need.
pub fn raw_unlock(conn: &rusqlite::Connection, key: &gridwork_core::StoreKey, mac: &str) {
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA cipher_compatibility = 4; PRAGMA cipher_hmac_algorithm = {mac};",
        key.to_hex()
    ))
    .unwrap();
}

/// Whether a raw connection unlocked with `key` and `mac` reads the store at `db`.
pub fn raw_reads(db: &std::path::Path, key: &gridwork_core::StoreKey, mac: &str) -> bool {
    let conn = rusqlite::Connection::open(db).unwrap();
    raw_unlock(&conn, key, mac);
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok()
}

/// A raw connection to the encrypted store at `db`, unlocked with `key` and the page MAC that
/// reads it (HMAC-SHA256, else the HMAC-SHA512 of a store made before ADR 0056; SHA-256 when
/// neither reads, as for a store whose first page is damaged).
pub fn raw_open(db: &std::path::Path, key: &gridwork_core::StoreKey) -> rusqlite::Connection {
    let mac = if !raw_reads(db, key, "HMAC_SHA256") && raw_reads(db, key, "HMAC_SHA512") {
        "HMAC_SHA512"
    } else {
        "HMAC_SHA256"
    };
    let conn = rusqlite::Connection::open(db).unwrap();
    raw_unlock(&conn, key, mac);
    conn
}

/// Makes the first page of an encrypted store as SQLCipher 4's defaults did before ADR 0056
/// (pages authenticated with HMAC-SHA512): `Gridwork::open_with` then builds the store's
/// schema in that format, as a store made by an earlier version of the app.
pub fn legacy_store(db: &std::path::Path, key: &gridwork_core::StoreKey) {
    let conn = rusqlite::Connection::open(db).unwrap();
    raw_unlock(&conn, key, "HMAC_SHA512");
    conn.execute_batch("PRAGMA user_version = 0; VACUUM;")
        .unwrap();
    drop(conn);
    assert!(
        std::fs::metadata(db).unwrap().len() > 0,
        "the first page is written"
    );
    assert!(raw_reads(db, key, "HMAC_SHA512") && !raw_reads(db, key, "HMAC_SHA256"));
}
