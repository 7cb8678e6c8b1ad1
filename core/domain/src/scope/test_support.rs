//! A small city for the scope rules' tests: one subdistrict with a community of two grids, a
//! building in grid A served by a station, and a grid in another subdistrict.

use crate::ids::Id;
use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::scope::{CaseFacts, Place, ScopeView};
use crate::sync::Role;
use crate::workflow::DefenceLevel;

pub struct City {
    pub district: Id,
    pub subdistrict: Id,
    pub layer: Id,
    pub community: Id,
    pub grid_a: Id,
    pub grid_b: Id,
    pub grid_elsewhere: Id,
    pub elsewhere_sub: Id,
    pub building_a: Id,
    pub station_id: Id,
}

impl City {
    pub fn new() -> City {
        let n = crate::ids::test_id;
        City {
            district: n(),
            subdistrict: n(),
            layer: n(),
            community: n(),
            grid_a: n(),
            grid_b: n(),
            grid_elsewhere: n(),
            elsewhere_sub: n(),
            building_a: n(),
            station_id: n(),
        }
    }

    /// The path down to `area` (one of the city's areas).
    pub fn path(&self, area: Id) -> Vec<Id> {
        let base = vec![self.district, self.subdistrict, self.layer, self.community];
        if area == self.grid_elsewhere {
            return vec![self.district, self.elsewhere_sub, area];
        }
        let depth = base.iter().position(|a| *a == area);
        match depth {
            Some(d) => base[..=d].to_vec(),
            None => [base, vec![area]].concat(),
        }
    }

    pub fn area(&self, path: &[Id]) -> Place {
        let mut p = Place::unresolved(EntityKind::Area, *path.last().unwrap());
        p.areas = path.to_vec();
        p
    }

    pub fn station(&self, area: Id) -> Place {
        let mut p = Place::unresolved(EntityKind::Station, self.station_id);
        p.areas = self.path(area);
        p.station = Some(self.station_id);
        p
    }

    /// A household in some other building of `grid`.
    pub fn household(&self, grid: Id) -> Place {
        let mut p = Place::unresolved(EntityKind::Household, crate::ids::test_id());
        p.areas = self.path(grid);
        p.building = Some(crate::ids::test_id());
        p
    }

    pub fn resident(&self, grid: Id) -> Place {
        let mut p = self.household(grid);
        p.kind = EntityKind::Resident;
        p
    }

    /// A record of `kind` in `building` (grid A, served by the station).
    pub fn in_building(&self, kind: EntityKind, building: Id) -> Place {
        let mut p = Place::unresolved(kind, crate::ids::test_id());
        p.areas = self.path(self.grid_a);
        p.building = Some(building);
        p.station = Some(self.station_id);
        p
    }

    /// A building of grid B, assigned to `station` (another station when `None`), with the
    /// stations its alarms were dispatched to.
    pub fn building(&self, station: Option<Id>, responders: Vec<Id>) -> Place {
        let mut p = Place::unresolved(EntityKind::Building, crate::ids::test_id());
        p.areas = self.path(self.grid_b);
        p.building = Some(p.id);
        p.station = Some(station.unwrap_or_else(crate::ids::test_id));
        p.responders = responders;
        p
    }

    pub fn case(&self, grid: Id, facts: CaseFacts) -> Place {
        let mut p = Place::unresolved(EntityKind::Case, crate::ids::test_id());
        p.areas = self.path(grid);
        p.case = Some(facts);
        p
    }

    pub fn alarm(&self, dispatched: Option<Id>) -> Place {
        let mut p = self.case(
            self.grid_b,
            CaseFacts {
                kind: CaseKind::Alarm,
                dispatched_to: dispatched.into_iter().collect(),
                dispute_level: None,
            },
        );
        p.building = Some(crate::ids::test_id());
        p
    }

    pub fn hazard(&self, grid: Id) -> Place {
        self.case(grid, CaseFacts::from_events(CaseKind::Hazard, []))
    }

    pub fn hazard_in(&self, building: Id) -> Place {
        let mut p = self.in_building(EntityKind::Case, building);
        p.case = Some(CaseFacts::from_events(CaseKind::Hazard, []));
        p
    }

    pub fn dispute(&self, grid: Id, level: Option<DefenceLevel>) -> Place {
        self.case(
            grid,
            CaseFacts {
                kind: CaseKind::Dispute,
                dispatched_to: vec![],
                dispute_level: level,
            },
        )
    }

    pub fn gridworker(&self) -> ScopeView {
        ScopeView::new(
            Role::Gridworker,
            vec![self.grid_a],
            vec![self.path(self.grid_a)],
        )
    }

    pub fn dispatcher(&self) -> ScopeView {
        ScopeView::new(
            Role::Dispatcher,
            vec![self.subdistrict],
            vec![self.path(self.subdistrict)],
        )
    }

    pub fn building_head(&self) -> ScopeView {
        ScopeView::new(
            Role::BuildingHead,
            vec![self.building_a],
            vec![self.path(self.grid_a)],
        )
    }

    pub fn crew(&self) -> ScopeView {
        ScopeView::new(
            Role::FireCrew,
            vec![self.station_id],
            vec![self.path(self.community)],
        )
    }

    /// The crew of some other station.
    pub fn crew_of(&self, station: Id) -> ScopeView {
        ScopeView::new(Role::FireCrew, vec![station], vec![])
    }

    pub fn mediator(&self) -> ScopeView {
        ScopeView::new(
            Role::Mediator,
            vec![self.community],
            vec![self.path(self.community)],
        )
    }
}
