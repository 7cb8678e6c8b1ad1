//! Tenant registration (流动人口登记, hotel-style 旅店式) on the phone: the building head checks
//! a tenant in and out, and the gridworker reads the figures they are judged on: stays expiring
//! or overdue, the registration rate per person and per room for each building and grid, the
//! occupied rental rooms where someone is still to register, and the people living in rentals
//! without a registration (where to knock, and whom to ask for).
//!
//! What counts as an occupied rental room, and as registered, is the domain's rule
//! ([`gridwork_domain::workflow::registration`]): a non-archived rental or group-rental
//! household; a person is registered when they hold an open stay in the room they live in
//! (人房匹配). The ledger rules (a valid ID number, the tenant's own room, one open stay per
//! person, one household per unit of a building) are judged here before anything is written,
//! by [`check_ledger`], whichever way the record is written (a check-in, `create`, `update`);
//! the server judges them again when the change arrives.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, Building, Household, Registration, Resident};
use gridwork_domain::op::{EntityKind, FieldWrite};
use gridwork_domain::validate::resident_id;
use gridwork_domain::workflow::{
    self, Ledger, RegistrationRate, household_rules, ledger_fields, registration_rules,
};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

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

/// An occupied rental room where someone is still to register: nobody is registered in it, or
/// a person living there holds no stay in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnregisteredRoom {
    pub household_id: Id,
    pub unit: String,
    pub building_id: Id,
    pub address: String,
    /// The people recorded in the room without a stay in it (0 when nobody is recorded: the
    /// room is occupied and nobody knows by whom).
    pub unregistered_people: usize,
    /// Whether any stay in the room is open.
    pub any_registered: bool,
}

/// A person living in a rental room without an open stay in it: whom to ask for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnregisteredTenant {
    pub resident_id: Id,
    pub name: String,
    /// Masked (`3301**********1234`), as every list shows it; `None` when not recorded (then
    /// the check-in is refused until it is).
    pub id_number_masked: Option<String>,
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
    /// check-in day (`registration.expected_end`), the resident holds no valid ID number
    /// (`resident.id_number`), the room is not the resident's own household's or is archived
    /// (`registration.household_id`), or the resident already has an open stay anywhere
    /// (`registration.resident_id`): check that one out first.
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
            referenced(
                tx,
                "registration.household_id",
                EntityKind::Household,
                household_id,
            )?;
            let mut stay = Registration {
                id: uuid::Uuid::nil(),
                resident_id,
                household_id,
                check_in,
                expected_end,
                check_out: None,
            };
            let op = create_op(stamp, &mut stay)?;
            registration_rules(&stay, &ledger_of_stay(tx, &stay)?)?;
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

    /// The registration rate per person and per room of the area, of each of its grids and of
    /// each building with rental rooms.
    pub fn registration_rate(&self, area_id: Id) -> Result<RegistrationReport> {
        self.query(|conn| {
            let area: Area = live_state(conn, EntityKind::Area, area_id)?.decode()?;
            let households = area_records::households(conn, area_id)?;
            let people = area_records::residents(conn, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let mut grids = Vec::new();
            for grid in area_records::grids_of(conn, &area)? {
                let rooms = area_records::households(conn, grid.id)?;
                grids.push(GridRegistration {
                    grid_id: grid.id,
                    grid_name: grid.name,
                    rate: workflow::registration_rate(&rooms, &people, &stays),
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
                let rate = workflow::registration_rate(&rooms, &people, &stays);
                if rate.occupied_rental_rooms > 0 {
                    buildings.push(BuildingRegistration {
                        building_id: b.id,
                        address: b.address,
                        rate,
                    });
                }
            }
            Ok(RegistrationReport {
                area: workflow::registration_rate(&households, &people, &stays),
                grids,
                buildings,
            })
        })
    }

    /// The occupied rental rooms of the area where someone is still to register (nobody
    /// registered, or a person living there without a stay in it), by building address code
    /// and unit: where to knock.
    pub fn unregistered_rooms(&self, area_id: Id) -> Result<Vec<UnregisteredRoom>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let households = area_records::households(conn, area_id)?;
            let people = area_records::residents(conn, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let missing: HashSet<Id> = workflow::unregistered_rooms(&households, &people, &stays)
                .into_iter()
                .collect();
            let mut unregistered: HashMap<Id, usize> = HashMap::new();
            for person in workflow::unregistered_people(&households, &people, &stays) {
                if let Some(p) = people.iter().find(|p| p.id == person) {
                    *unregistered.entry(p.household_id).or_default() += 1;
                }
            }
            let open: HashSet<Id> = stays
                .iter()
                .filter(|r| r.is_active())
                .map(|r| r.household_id)
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
                        unregistered_people: unregistered.get(&h.id).copied().unwrap_or(0),
                        any_registered: open.contains(&h.id),
                    });
                }
            }
            Ok(rooms)
        })
    }

    /// The people of the area living in rental rooms without an open stay in the room they
    /// live in, by building address code, unit and name: whom to register (ID numbers masked).
    pub fn unregistered_tenants(&self, area_id: Id) -> Result<Vec<UnregisteredTenant>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let households = area_records::households(conn, area_id)?;
            let people = area_records::residents(conn, area_id)?;
            let stays = area_records::registrations(conn, area_id)?;
            let missing: HashSet<Id> = workflow::unregistered_people(&households, &people, &stays)
                .into_iter()
                .collect();
            let rooms: HashMap<Id, &Household> = households.iter().map(|h| (h.id, h)).collect();
            let mut by_room: HashMap<Id, Vec<&Resident>> = HashMap::new();
            for p in people.iter().filter(|p| missing.contains(&p.id)) {
                by_room.entry(p.household_id).or_default().push(p);
            }
            let mut by_building: HashMap<Id, Vec<&Household>> = HashMap::new();
            for room in by_room.keys().filter_map(|id| rooms.get(id)) {
                by_building.entry(room.building_id).or_default().push(room);
            }
            let mut out = Vec::with_capacity(missing.len());
            for b in area_records::buildings(conn, area_id)? {
                let mut in_building = by_building.remove(&b.id).unwrap_or_default();
                in_building.sort_by(|x, y| x.unit.cmp(&y.unit).then(x.id.cmp(&y.id)));
                for room in in_building {
                    let mut tenants = by_room.remove(&room.id).unwrap_or_default();
                    tenants.sort_by(|x, y| x.name.cmp(&y.name).then(x.id.cmp(&y.id)));
                    for t in tenants {
                        out.push(UnregisteredTenant {
                            resident_id: t.id,
                            name: t.name.clone(),
                            id_number_masked: t.id_number.as_deref().map(resident_id::mask),
                            household_id: room.id,
                            unit: room.unit.clone(),
                            building_id: b.id,
                            address: b.address.clone(),
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    fn stays_view(
        &self,
        area_id: Id,
        pick: impl for<'a> FnOnce(&'a [Registration]) -> Vec<&'a Registration>,
    ) -> Result<Vec<StayView>> {
        self.query(|conn| {
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

/// Judges a household or a stay about to be written (created, or `written` fields changed) by
/// the ledger rules against what this phone holds of its building or tenant. Called by
/// [`Gridwork::create`] and [`Gridwork::update`] inside their transaction, so no path writes a
/// second household on a unit or a second open stay for a person.
pub(crate) fn check_ledger(
    conn: &Connection,
    kind: EntityKind,
    record: &Map<String, Value>,
    written: Option<&[&str]>,
) -> Result<()> {
    let fields = ledger_fields(kind);
    if fields.is_empty() || written.is_some_and(|w| !w.iter().any(|f| fields.contains(f))) {
        return Ok(());
    }
    let value = Value::Object(record.clone());
    match kind {
        EntityKind::Household => {
            let household: Household = serde_json::from_value(value)?;
            let ledger = Ledger {
                households: households_of_building(conn, household.building_id)?,
                ..Ledger::default()
            };
            household_rules(&household, &ledger)?;
        }
        EntityKind::Registration => {
            let stay: Registration = serde_json::from_value(value)?;
            registration_rules(&stay, &ledger_of_stay(conn, &stay)?)?;
        }
        _ => {}
    }
    Ok(())
}

/// A stay's room, tenant and the tenant's stays, as this phone holds them.
fn ledger_of_stay(conn: &Connection, stay: &Registration) -> Result<Ledger> {
    Ok(Ledger {
        households: vec![],
        room: live::<Household>(conn, stay.household_id)?,
        tenant: live::<Resident>(conn, stay.resident_id)?,
        stays: stays_of_resident(conn, stay.resident_id)?,
    })
}

fn live<T: gridwork_domain::model::Entity>(conn: &Connection, id: Id) -> Result<Option<T>> {
    Ok(match records::load(conn, id)? {
        Some(state) if !state.is_deleted() && state.kind == T::KIND => state.decode().ok(),
        _ => None,
    })
}

/// Every household of a building, archived ones included (the rule skips them).
fn households_of_building(conn: &Connection, building_id: Id) -> Result<Vec<Household>> {
    area_records::decode_rows(
        conn,
        "SELECT id, fields FROM records WHERE kind = 'household' AND tombstone IS NULL
         AND parent = ?1",
        &[building_id.to_string()],
    )
}

/// Every stay of a resident.
fn stays_of_resident(conn: &Connection, resident_id: Id) -> Result<Vec<Registration>> {
    area_records::decode_rows(
        conn,
        "SELECT id, fields FROM records WHERE kind = 'registration' AND tombstone IS NULL
         AND parent = ?1",
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
