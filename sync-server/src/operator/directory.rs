//! What the operator looks records up by, read once from the storage: every live area by its
//! code, building by its unified address code, station by its name, household by its building
//! and unit, resident by ID number (or, without one, by household and name). The importer keys
//! its rows by these, so importing a corrected file again changes the records it names and
//! never duplicates them.

use std::collections::HashMap;

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{Area, Building, Household, Resident, Station};
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::Place;

use super::DIRECTORY_KINDS;
use crate::storage::{Storage, StorageError};

/// Records read per page when loading.
const PAGE: usize = 5_000;

/// The stored records an operator names things by. See the module doc.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    /// Every live record of the [`DIRECTORY_KINDS`], by id.
    pub states: HashMap<Id, RecordState>,
    /// Each record's place, where the server knows it.
    pub places: HashMap<Id, Place>,
    pub areas: HashMap<Id, Area>,
    pub buildings: HashMap<Id, Building>,
    pub stations: HashMap<Id, Station>,
    pub households: HashMap<Id, Household>,
    pub residents: HashMap<Id, Resident>,
    areas_by_code: HashMap<String, Id>,
    buildings_by_code: HashMap<String, Id>,
    stations_by_name: HashMap<String, Id>,
    households_by_unit: HashMap<(Id, String), Id>,
    residents_by_number: HashMap<String, Id>,
    residents_by_name: HashMap<(Id, String), Id>,
}

impl Directory {
    /// Reads every live area, building, station, household and resident from `storage`.
    pub async fn load<S: Storage>(storage: &S) -> Result<Directory, StorageError> {
        let mut dir = Directory::default();
        let mut after = None;
        loop {
            let rows = storage.record_rows(None, after, PAGE).await?;
            for row in rows.records {
                after = Some(row.state.id);
                if row.state.is_deleted() || !DIRECTORY_KINDS.contains(&row.state.kind) {
                    continue;
                }
                if let Some(place) = row.place {
                    dir.places.insert(row.state.id, place);
                }
                dir.insert(row.state);
            }
            if !rows.more {
                break;
            }
        }
        Ok(dir)
    }

    /// Adds (or replaces) a record as it is or will be stored; a record that does not decode as
    /// its kind is kept only as a state.
    pub fn insert(&mut self, state: RecordState) {
        let id = state.id;
        match state.kind {
            EntityKind::Area => {
                if let Ok(a) = state.decode::<Area>() {
                    self.areas_by_code.insert(a.code.clone(), id);
                    self.areas.insert(id, a);
                }
            }
            EntityKind::Building => {
                if let Ok(b) = state.decode::<Building>() {
                    self.buildings_by_code.insert(b.address_code.clone(), id);
                    self.buildings.insert(id, b);
                }
            }
            EntityKind::Station => {
                if let Ok(s) = state.decode::<Station>() {
                    self.stations_by_name.insert(s.name.clone(), id);
                    self.stations.insert(id, s);
                }
            }
            EntityKind::Household => {
                if let Ok(h) = state.decode::<Household>() {
                    self.households_by_unit
                        .insert((h.building_id, h.unit.clone()), id);
                    self.households.insert(id, h);
                }
            }
            EntityKind::Resident => {
                if let Ok(r) = state.decode::<Resident>() {
                    match &r.id_number {
                        Some(n) => {
                            self.residents_by_number.insert(n.clone(), id);
                        }
                        None => {
                            self.residents_by_name
                                .insert((r.household_id, r.name.clone()), id);
                        }
                    }
                    self.residents.insert(id, r);
                }
            }
            _ => {}
        }
        self.states.insert(id, state);
    }

    /// Forgets a record (retired).
    pub fn remove(&mut self, id: Id) {
        self.states.remove(&id);
        if let Some(a) = self.areas.remove(&id) {
            self.areas_by_code.remove(&a.code);
        }
        if let Some(b) = self.buildings.remove(&id) {
            self.buildings_by_code.remove(&b.address_code);
        }
        if let Some(s) = self.stations.remove(&id) {
            self.stations_by_name.remove(&s.name);
        }
    }

    /// The live area with this code.
    pub fn area_by_code(&self, code: &str) -> Option<&Area> {
        self.areas_by_code
            .get(code)
            .and_then(|id| self.areas.get(id))
    }

    /// The live building with this unified address code.
    pub fn building_by_code(&self, code: &str) -> Option<&Building> {
        self.buildings_by_code
            .get(code)
            .and_then(|id| self.buildings.get(id))
    }

    /// The live station with this name.
    pub fn station_by_name(&self, name: &str) -> Option<&Station> {
        self.stations_by_name
            .get(name)
            .and_then(|id| self.stations.get(id))
    }

    /// The live household of this unit of a building.
    pub fn household_at(&self, building: Id, unit: &str) -> Option<&Household> {
        self.households_by_unit
            .get(&(building, unit.to_string()))
            .and_then(|id| self.households.get(id))
    }

    /// The resident with this (normalized) ID number.
    pub fn resident_by_number(&self, number: &str) -> Option<&Resident> {
        self.residents_by_number
            .get(number)
            .and_then(|id| self.residents.get(id))
    }

    /// The resident of a household with this name and no ID number.
    pub fn resident_by_name(&self, household: Id, name: &str) -> Option<&Resident> {
        self.residents_by_name
            .get(&(household, name.to_string()))
            .and_then(|id| self.residents.get(id))
    }

    /// The id named by `s` for a user's scope: an area code, a building's address code, a
    /// station's name, or an id of one of those.
    pub fn scope_entry(&self, s: &str) -> Option<(Id, EntityKind)> {
        let s = s.trim();
        if let Ok(id) = s.parse::<Id>() {
            return self
                .states
                .get(&id)
                .filter(|st| {
                    matches!(
                        st.kind,
                        EntityKind::Area | EntityKind::Building | EntityKind::Station
                    )
                })
                .map(|st| (id, st.kind));
        }
        if let Some(a) = self.area_by_code(s) {
            return Some((a.id, EntityKind::Area));
        }
        if let Some(b) = self.building_by_code(s) {
            return Some((b.id, EntityKind::Building));
        }
        self.station_by_name(s)
            .map(|st| (st.id, EntityKind::Station))
    }

    /// The area path from the district down to `area` (itself last), by the parents stored.
    pub fn area_path(&self, area: Id) -> Vec<Id> {
        let mut path = vec![];
        let mut at = Some(area);
        while let Some(id) = at {
            if path.contains(&id) || path.len() > 8 {
                break;
            }
            path.push(id);
            at = self.areas.get(&id).and_then(|a| a.parent_id);
        }
        path.reverse();
        path
    }
}
