//! The world the workflow scenarios play in: a phone on a hand-moved clock, enrolled as a
//! gridworker, with the grid of `common.rs`, its buildings placed along a Hangzhou street and
//! micro fire stations at known places.

use gridwork_core::Gridwork;
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::validate::Position;
use std::sync::atomic::Ordering;
use uuid::Uuid;

use crate::common::*;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

/// A gridworker's phone over a grid.
pub struct World {
    pub gw: Gridwork,
    pub clock: TestClock,
    pub g: Grid,
    /// The gridworker this phone is enrolled as.
    pub me: Id,
}

pub fn pos(lat: f64, lon: f64) -> Position {
    Position::new("position", lat, lon).unwrap()
}

impl World {
    /// The phone at [`MORNING_MS`] (Monday 2026-11-23, 09:00 China time) with `n` buildings,
    /// building `i` at latitude 30.26 + 0.001·i (about 110 m apart, south to north).
    pub fn new(n: usize) -> World {
        let clock = TestClock::at(MORNING_MS);
        let gw = Gridwork::open_in_memory(clock.options()).unwrap();
        World::with_store(gw, clock, n)
    }

    /// [`World::new`] on a store file at `path`: queries run on reader connections of their
    /// own, as on a phone, while writes run on the writer's.
    pub fn on_disk(n: usize, path: &std::path::Path) -> World {
        let clock = TestClock::at(MORNING_MS);
        let gw = Gridwork::open_with(path, clock.options()).unwrap();
        World::with_store(gw, clock, n)
    }

    fn with_store(gw: Gridwork, clock: TestClock, n: usize) -> World {
        let me = Uuid::now_v7();
        gw.set_user_id(me).unwrap();
        let mut g = grid_with_buildings(&gw, n);
        for (i, b) in g.buildings.iter_mut().enumerate() {
            let at = pos(30.26 + 0.001 * i as f64, 120.165);
            *b = gw
                .update::<Building>(b.id, |b| b.position = Some(at))
                .unwrap();
        }
        World { gw, clock, g, me }
    }

    /// Now, by the hand-moved clock.
    pub fn now(&self) -> u64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    /// Moves the clock to `ms`.
    pub fn set_now(&self, ms: u64) {
        self.clock.0.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock on by `ms`.
    pub fn wait(&self, ms: u64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// A micro fire station of the community at `position`.
    pub fn station(&self, name: &str, position: Position) -> Station {
        self.gw
            .create(Station {
                id: Uuid::nil(),
                name: name.into(),
                area_id: self.g.community.id,
                position,
                phone: Some("0571-87001234".into()),
            })
            .unwrap()
    }

    /// A case of `kind` in the grid, opened now.
    pub fn case(&self, kind: CaseKind, title: &str, severity: Severity) -> Case {
        self.gw
            .open_case(Case {
                id: Uuid::nil(),
                kind,
                title: title.into(),
                category: "test".into(),
                severity,
                area_id: self.g.grid.id,
                building_id: Some(self.g.buildings[0].id),
                household_id: None,
                position: None,
                opened_at_ms: 0,
                patrol_id: None,
            })
            .unwrap()
            .case
    }

    /// A tenant (a resident of the room) with a valid ID number.
    pub fn tenant(&self, room: Id, name: &str, serial: u16) -> Resident {
        resident(&self.gw, room, name, &id_number("19950101", serial))
    }
}
