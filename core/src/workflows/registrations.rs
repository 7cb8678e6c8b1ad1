//! Tenant registration (流动人口登记, hotel-style 旅店式) on the phone: the building head checks
//! a tenant in and out, and the gridworker reads the figures they are judged on: stays expiring
//! or overdue, the registration rate per building and per grid, and the occupied rental rooms
//! with nobody registered (where to knock).
//!
//! What counts as an occupied rental room, and as registered, is the domain's rule
//! ([`gridwork_domain::workflow::registration`]): a non-archived rental or group-rental household;
//! registered when at least one stay in it is not checked out.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, Building, Household, Registration, Resident};
use gridwork_domain::op::{EntityKind, FieldWrite};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::{self, RegistrationRate};
use rusqlite::Connection;
use serde::Serialize;

use crate::error::Result;
use crate::gridwork::create_op;
use crate::gridwork::{Gridwork, live_state, set_op};
use crate::store::area_records;
use crate::store::records;
use crate::workflows::new_record::referenced;

/// A stay as the expiring and overdue lists show it: who, where, until when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StayView {
    pub registration: Registration,
    pub resident_name: String,
    /// The room, e.g. "2-301".
    pub unit: String,
    pub building_id: Id,
    pub address: String,
}

/// An occupied rental room with no tenant registered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnregisteredRoom {
    pub household_id: Id,
    pub unit: String,
    pub building_id: Id,
    pub address: String,
}

/// The registration rate of one building.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildingRegistration {
    pub building_id: Id,
    pub address: String,
    pub rate: RegistrationRate,
}

/// The registration rate of one grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridRegistration {
    pub grid_id: Id,
    pub grid_name: String,
    pub rate: RegistrationRate,
}

/// The registration figures of an area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrationReport {
    /// Over the whole area.
    pub area: RegistrationRate,
    /// Per grid of the area (the area itself when it is a grid), by grid code; grids with no
    /// rental room are listed at 100%.
    pub grids: Vec<GridRegistration>,
    /// Per building that has at least one occupied rental room, by address code: a building
    /// with no rental room has nothing to register and would only lengthen the list.
    pub buildings: Vec<BuildingRegistration>,
}

impl Gridwork {
    /// Checks a tenant into a room (旅店式登记): a new stay from `check_in`, expected to end on
    /// `expected_end` if known. Refused, naming the field, when the expected end is before the
    /// check-in day (`registration.expected_end`), the room is archived
    /// (`registration.household_id`), or the resident already has a stay in this room that is
    /// not checked out (`registration.resident_id`).
    pub fn check_in(
        &self,
        resident_id: Id,
        household_id: Id,
        check_in: NaiveDate,
        expected_end: Option<NaiveDate>,
    ) -> Result<Registration> {
        workflow::check_in_rules(check_in, expected_end)?;
        self.commit_local(|tx, stamp| {
            referenced(
                tx,
                "registration.resident_id",
                EntityKind::Resident,
                resident_id,
            )?;
            let room: Household = referenced(
                tx,
                "registration.household_id",
                EntityKind::Household,
                household_id,
            )?
            .decode()?;
            if room.archived {
                return Err(ValidationError::new(
                    "registration.household_id",
                    "the room is archived (moved out); restore it before checking a tenant in",
                )
                .into());
            }
            let stays = stays_of_resident(tx, resident_id)?;
            if stays
                .iter()
                .any(|r| r.household_id == household_id && r.is_active())
            {
                return Err(ValidationError::new(
                    "registration.resident_id",
                    "the tenant is already checked in to this room; check the old stay out first",
                )
                .into());
            }
            let mut stay = Registration {
                id: uuid::Uuid::nil(),
                resident_id,
                household_id,
                check_in,
                expected_end,
                check_out: None,
            };
            let op = create_op(stamp, &mut stay)?;
            Ok((vec![op], stay))
        })
    }

    /// Checks a tenant out on `day`. Refused (`registration.check_out`) when the stay is
    /// already checked out or `day` is before the check-in.
    pub fn check_out(&self, registration_id: Id, day: NaiveDate) -> Result<Registration> {
        self.commit_local(|tx, stamp| {
            let state = live_state(tx, EntityKind::Registration, registration_id)?;
            let mut stay: Registration = state.decode()?;
            workflow::check_out_rules(&stay, day)?;
            stay.check_out = Some(day);
            let field = "check_out".to_string();
            let write = FieldWrite {
                value: serde_json::to_value(day)?,
                base: records::field_stamp(&state, &field),
            };
            let op = set_op(
                stamp,
                EntityKind::Registration,
                registration_id,
                BTreeMap::from([(field, write)]),
            );
            Ok((vec![op], stay))
        })
    }

    /// Stays in the area whose expected end falls between `today` and `today + within_days`,
    /// both included, soonest first: remind the tenant to renew or check out.
    pub fn expiring_stays(
        &self,
        area_id: Id,
        today: NaiveDate,
        within_days: u32,
    ) -> Result<Vec<StayView>> {
        self.stays_view(area_id, |stays| {
            workflow::expiring_soon(stays, today, within_days)
        })
    }

    /// Stays in the area still open after their expected end, longest overdue first: the
    /// tenant has left without checking out, or stayed on without renewing.
    pub fn overdue_stays(&self, area_id: Id, today: NaiveDate) -> Result<Vec<StayView>> {
        self.stays_view(area_id, |stays| workflow::overdue_stays(stays, today))
    }

    /// The registration rate of the area, of each of its grids and of each building with
    /// rental rooms.
    pub fn registration_rate(&self, area_id: Id) -> Result<RegistrationReport> {
        self.read(|conn| {
            let area: Area = live_state(conn, EntityKind::Area, area_id)?.decode()?;
            let households = area_records::households(conn, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let mut grids = Vec::new();
            for grid in area_records::grids_of(conn, &area)? {
                let rooms = area_records::households(conn, grid.id)?;
                grids.push(GridRegistration {
                    grid_id: grid.id,
                    grid_name: grid.name,
                    rate: workflow::registration_rate(&rooms, &stays),
                });
            }
            let mut by_building: HashMap<Id, Vec<Household>> = HashMap::new();
            for h in &households {
                by_building
                    .entry(h.building_id)
                    .or_default()
                    .push(h.clone());
            }
            let mut buildings = Vec::new();
            for b in area_records::buildings(conn, area_id)? {
                let rooms = by_building.remove(&b.id).unwrap_or_default();
                let rate = workflow::registration_rate(&rooms, &stays);
                if rate.occupied_rental_rooms > 0 {
                    buildings.push(BuildingRegistration {
                        building_id: b.id,
                        address: b.address,
                        rate,
                    });
                }
            }
            Ok(RegistrationReport {
                area: workflow::registration_rate(&households, &stays),
                grids,
                buildings,
            })
        })
    }

    /// The occupied rental rooms of the area with no tenant registered, by building address code
    /// and unit: where to knock.
    pub fn unregistered_rooms(&self, area_id: Id) -> Result<Vec<UnregisteredRoom>> {
        self.read(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let households = area_records::households(conn, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let missing: HashSet<Id> = workflow::unregistered_rooms(&households, &stays)
                .into_iter()
                .collect();
            let mut by_building: HashMap<Id, Vec<&Household>> = HashMap::new();
            for h in households.iter().filter(|h| missing.contains(&h.id)) {
                by_building.entry(h.building_id).or_default().push(h);
            }
            let mut rooms = Vec::with_capacity(missing.len());
            // Buildings come back in address-code order and households by unit, so walking
            // them in that order gives the knocking order.
            for b in area_records::buildings(conn, area_id)? {
                for h in by_building.remove(&b.id).unwrap_or_default() {
                    rooms.push(UnregisteredRoom {
                        household_id: h.id,
                        unit: h.unit.clone(),
                        building_id: b.id,
                        address: b.address.clone(),
                    });
                }
            }
            Ok(rooms)
        })
    }

    fn stays_view(
        &self,
        area_id: Id,
        pick: impl for<'a> FnOnce(&'a [Registration]) -> Vec<&'a Registration>,
    ) -> Result<Vec<StayView>> {
        self.read(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let households: HashMap<Id, Household> =
                area_records::by_id(area_records::households(conn, area_id)?);
            let buildings: HashMap<Id, Building> =
                area_records::by_id(area_records::buildings(conn, area_id)?);
            pick(&stays)
                .into_iter()
                .map(|stay| {
                    let room = households.get(&stay.household_id);
                    let building = room.and_then(|h| buildings.get(&h.building_id));
                    Ok(StayView {
                        resident_name: resident_name(conn, stay.resident_id)?,
                        unit: room.map(|h| h.unit.clone()).unwrap_or_default(),
                        building_id: building.map(|b| b.id).unwrap_or_default(),
                        address: building.map(|b| b.address.clone()).unwrap_or_default(),
                        registration: stay.clone(),
                    })
                })
                .collect()
        })
    }
}

/// Every stay of a resident.
fn stays_of_resident(conn: &Connection, resident_id: Id) -> Result<Vec<Registration>> {
    area_records::decode_rows(
        conn,
        "SELECT id, fields FROM records WHERE kind = 'registration' AND tombstone IS NULL
         AND json_extract(fields, '$.resident_id') = ?1",
        &[resident_id.to_string()],
    )
}

/// A resident's name, or empty when the resident is not (yet) on the device.
fn resident_name(conn: &Connection, resident_id: Id) -> Result<String> {
    Ok(match records::load(conn, resident_id)? {
        Some(state) if !state.is_deleted() => state
            .decode::<Resident>()
            .map(|r| r.name)
            .unwrap_or_default(),
        _ => String::new(),
    })
}
