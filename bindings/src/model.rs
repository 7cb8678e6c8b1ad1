//! The records and enums of the place model as the apps see them: areas, buildings, stations,
//! households, residents and tenant registrations (ADR 0050).
//!
//! The enums and `Position` are the domain's own types, declared here as uniffi remote types:
//! no copy, no conversion; a variant or field added in the domain is a compile error here until
//! it is listed. The records are mirrors, kept because their public shape differs from the
//! domain's on purpose: ids are UUID strings and days `YYYY-MM-DD` (parsed with the field's name
//! in the error, `""` for a new record's id), times are signed (ADR 0032), phones and ID numbers
//! are `Sensitive` (ADR 0029), and `Area` leaves out its response policies. The `From` and
//! `to_core` conversions are the only code that knows both shapes.

use gridwork_domain::model as core;
use gridwork_domain::validate::Position as CorePosition;

use crate::convert::{day_text, id, id_text, opt_id, opt_id_text, opt_ms_in, record_id, wide};
use crate::error::GridworkError;
use crate::sensitive::Sensitive;
use std::sync::Arc;

pub type Position = CorePosition;

/// A point, WGS-84 degrees.
#[uniffi::remote(Record)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
}

pub type AreaLevel = core::AreaLevel;

/// The levels of the administrative and grid hierarchy, top down.
#[uniffi::remote(Enum)]
pub enum AreaLevel {
    District,
    Subdistrict,
    GridLayer,
    Community,
    Grid,
    MicroGrid,
}

pub type BuildingKind = core::BuildingKind;

/// What a building is used for.
#[uniffi::remote(Enum)]
pub enum BuildingKind {
    Residential,
    Rental,
    MixedUse,
    Factory,
    Shop,
    Public,
}

pub type HouseholdKind = core::HouseholdKind;

/// How a household (a room or flat) is occupied.
#[uniffi::remote(Enum)]
pub enum HouseholdKind {
    OwnerOccupied,
    Rental,
    GroupRental,
    Vacant,
}

pub type KeyGroup = core::KeyGroup;

/// Residents who get regular visits (重点人群).
#[uniffi::remote(Enum)]
pub enum KeyGroup {
    ElderlyLivingAlone,
    LeftBehindChild,
    Disabled,
}

/// A district, subdistrict, grid layer, community, grid or micro-grid, with its unified code.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Area {
    pub id: String,
    pub level: AreaLevel,
    pub code: String,
    pub name: String,
    pub parent_id: Option<String>,
}

impl From<core::Area> for Area {
    fn from(a: core::Area) -> Self {
        Area {
            id: id_text(a.id),
            level: a.level,
            code: a.code,
            name: a.name,
            parent_id: opt_id_text(a.parent_id),
        }
    }
}

impl Area {
    pub(crate) fn to_core(&self) -> Result<core::Area, GridworkError> {
        Ok(core::Area {
            id: record_id("area.id", &self.id)?,
            level: self.level,
            code: self.code.clone(),
            name: self.name.clone(),
            parent_id: opt_id("area.parent_id", self.parent_id.as_deref())?,
            // A subdistrict's response policies are set with `set_response_policy`; writing an
            // area keeps them (see `GridworkClient::update_area`).
            response_policies: vec![],
        })
    }
}

/// A building, keyed by its unified address code (grid code + 4 digits).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Building {
    pub id: String,
    pub address_code: String,
    pub address: String,
    pub kind: BuildingKind,
    pub grid_id: String,
    pub micro_grid_id: Option<String>,
    pub head_user_id: Option<String>,
    pub station_id: Option<String>,
    pub position: Option<Position>,
}

impl From<core::Building> for Building {
    fn from(b: core::Building) -> Self {
        Building {
            id: id_text(b.id),
            address_code: b.address_code,
            address: b.address,
            kind: b.kind,
            grid_id: id_text(b.grid_id),
            micro_grid_id: opt_id_text(b.micro_grid_id),
            head_user_id: opt_id_text(b.head_user_id),
            station_id: opt_id_text(b.station_id),
            position: b.position,
        }
    }
}

impl Building {
    pub(crate) fn to_core(&self) -> Result<core::Building, GridworkError> {
        Ok(core::Building {
            id: record_id("building.id", &self.id)?,
            address_code: self.address_code.clone(),
            address: self.address.clone(),
            kind: self.kind,
            grid_id: id("building.grid_id", &self.grid_id)?,
            micro_grid_id: opt_id("building.micro_grid_id", self.micro_grid_id.as_deref())?,
            head_user_id: opt_id("building.head_user_id", self.head_user_id.as_deref())?,
            station_id: opt_id("building.station_id", self.station_id.as_deref())?,
            position: self.position,
        })
    }
}

/// A micro fire station (微型消防站): where alarms are dispatched.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Station {
    pub id: String,
    pub name: String,
    pub area_id: String,
    pub position: Position,
    pub phone: Option<String>,
}

impl From<core::Station> for Station {
    fn from(s: core::Station) -> Self {
        Station {
            id: id_text(s.id),
            name: s.name,
            area_id: id_text(s.area_id),
            position: s.position,
            phone: s.phone,
        }
    }
}

impl Station {
    pub(crate) fn to_core(&self) -> Result<core::Station, GridworkError> {
        Ok(core::Station {
            id: record_id("station.id", &self.id)?,
            name: self.name.clone(),
            area_id: id("station.area_id", &self.area_id)?,
            position: self.position,
            phone: self.phone.clone(),
        })
    }
}

/// A room or flat of a building (户).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Household {
    pub id: String,
    pub building_id: String,
    pub unit: String,
    pub kind: HouseholdKind,
    /// Prints masked; `reveal()` for the value.
    pub phone: Option<Arc<Sensitive>>,
    pub archived: bool,
}

impl From<core::Household> for Household {
    fn from(h: core::Household) -> Self {
        Household {
            id: id_text(h.id),
            building_id: id_text(h.building_id),
            unit: h.unit,
            kind: h.kind,
            phone: crate::sensitive::wrap(h.phone),
            archived: h.archived,
        }
    }
}

impl Household {
    pub(crate) fn to_core(&self) -> Result<core::Household, GridworkError> {
        Ok(core::Household {
            id: record_id("household.id", &self.id)?,
            building_id: id("household.building_id", &self.building_id)?,
            unit: self.unit.clone(),
            kind: self.kind,
            phone: crate::sensitive::unwrap(&self.phone),
            archived: self.archived,
        })
    }
}

/// A person living in a household, with the full ID number (only fetch it when the screen
/// needs it; lists use [`ResidentSummary`]).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Resident {
    pub id: String,
    pub household_id: String,
    pub name: String,
    /// Prints masked (`toString()`, `description`); `reveal()` for the value.
    pub id_number: Option<Arc<Sensitive>>,
    /// Prints masked; `reveal()` for the value.
    pub phone: Option<Arc<Sensitive>>,
    pub key_groups: Vec<KeyGroup>,
    pub last_visit_ms: Option<i64>,
    pub archived: bool,
}

impl From<core::Resident> for Resident {
    fn from(r: core::Resident) -> Self {
        Resident {
            id: id_text(r.id),
            household_id: id_text(r.household_id),
            name: r.name,
            id_number: crate::sensitive::wrap(r.id_number),
            phone: crate::sensitive::wrap(r.phone),
            key_groups: r.key_groups.into_iter().collect(),
            last_visit_ms: r.last_visit_ms.map(wide),
            archived: r.archived,
        }
    }
}

impl Resident {
    pub(crate) fn to_core(&self) -> Result<core::Resident, GridworkError> {
        Ok(core::Resident {
            id: record_id("resident.id", &self.id)?,
            household_id: id("resident.household_id", &self.household_id)?,
            name: self.name.clone(),
            id_number: crate::sensitive::unwrap(&self.id_number),
            phone: crate::sensitive::unwrap(&self.phone),
            key_groups: self.key_groups.to_vec(),
            last_visit_ms: opt_ms_in("resident.last_visit_ms", self.last_visit_ms)?,
            archived: self.archived,
        })
    }
}

/// A resident as lists show them: the ID number masked.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResidentSummary {
    pub id: String,
    pub household_id: String,
    pub name: String,
    pub id_number_masked: Option<String>,
    /// Prints masked; `reveal()` for the value.
    pub phone: Option<Arc<Sensitive>>,
    pub key_groups: Vec<KeyGroup>,
    pub archived: bool,
}

impl From<gridwork_core::ResidentSummary> for ResidentSummary {
    fn from(r: gridwork_core::ResidentSummary) -> Self {
        ResidentSummary {
            id: id_text(r.id),
            household_id: id_text(r.household_id),
            name: r.name,
            id_number_masked: r.id_number_masked,
            phone: crate::sensitive::wrap(r.phone),
            key_groups: r.key_groups.into_iter().collect(),
            archived: r.archived,
        }
    }
}

/// A tenant's stay in a room (旅店式登记). Days are `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Registration {
    pub id: String,
    pub resident_id: String,
    pub household_id: String,
    pub check_in: String,
    pub expected_end: Option<String>,
    pub check_out: Option<String>,
}

impl From<core::Registration> for Registration {
    fn from(r: core::Registration) -> Self {
        Registration {
            id: id_text(r.id),
            resident_id: id_text(r.resident_id),
            household_id: id_text(r.household_id),
            check_in: day_text(r.check_in),
            expected_end: r.expected_end.map(day_text),
            check_out: r.check_out.map(day_text),
        }
    }
}
