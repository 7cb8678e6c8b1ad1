//! [`PlaceService`]: areas, buildings, micro fire stations and households.

use gridwork_domain::model as core;

use super::PlaceService;
use crate::client::into_all;
use crate::convert::id;
use crate::error::GridworkError;
use crate::model::{Area, Building, Household, Station};
use crate::paging::{self, BuildingPage, HouseholdPage};
use crate::permission::Permission;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl PlaceService {
    /// Creates an area. Pass `id = ""` for a new id; the code must extend the parent's.
    pub fn create_area(&self, area: Area) -> Result<Area> {
        Ok(self.core()?.create(area.to_core()?)?.into())
    }

    /// Changes an area: every field of `area` is written where it differs (a subdistrict's
    /// response policies are kept: they change with `set_response_policy`).
    pub fn update_area(&self, area: Area) -> Result<Area> {
        let new = area.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |a: &mut core::Area| {
                let policies = std::mem::take(&mut a.response_policies);
                *a = new.clone();
                a.response_policies = policies;
            })?
            .into())
    }

    /// One area.
    pub fn area(&self, area_id: String) -> Result<Area> {
        Ok(self
            .core()?
            .get::<core::Area>(id("area_id", &area_id)?)?
            .into())
    }

    /// The areas directly below `parent_id`, or the top-level areas for `null`.
    pub fn child_areas(&self, parent_id: Option<String>) -> Result<Vec<Area>> {
        let parent = crate::convert::opt_id("parent_id", parent_id.as_deref())?;
        Ok(into_all(self.core()?.child_areas(parent)?))
    }

    /// Creates a building. Pass `id = ""` for a new id; the address code must lie in the grid.
    pub fn create_building(&self, building: Building) -> Result<Building> {
        Ok(self.core()?.create(building.to_core()?)?.into())
    }

    /// Changes a building.
    pub fn update_building(&self, building: Building) -> Result<Building> {
        let new = building.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |b: &mut core::Building| *b = new.clone())?
            .into())
    }

    /// One building.
    pub fn building(&self, building_id: String) -> Result<Building> {
        Ok(self
            .core()?
            .get::<core::Building>(id("building_id", &building_id)?)?
            .into())
    }

    /// The building with this unified address code (统一地址编码), or `null` when this device
    /// holds none: how a building typed or scanned from a door plate is found.
    pub fn building_by_address_code(&self, address_code: String) -> Result<Option<Building>> {
        Ok(self
            .core()?
            .building_by_address_code(&address_code)?
            .map(Into::into))
    }

    /// The area with this code (`330105012001001`), or `null` when this device holds none.
    pub fn area_by_code(&self, code: String) -> Result<Option<Area>> {
        Ok(self.core()?.area_by_code(&code)?.map(Into::into))
    }

    /// Every micro fire station this device holds, by name.
    pub fn stations(&self) -> Result<Vec<Station>> {
        Ok(into_all(self.core()?.stations()?))
    }

    /// The buildings of an area and the areas below it, by address code.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn buildings_in_area(
        &self,
        area_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<BuildingPage> {
        let all = into_all(self.core()?.buildings_in_area(id("area_id", &area_id)?)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(BuildingPage { items, next_cursor })
    }

    /// Creates a micro fire station. Pass `id = ""` for a new id.
    pub fn create_station(&self, station: Station) -> Result<Station> {
        Ok(self.core()?.create(station.to_core()?)?.into())
    }

    /// Adds a household (room or flat) to a building. Pass `id = ""` for a new id.
    pub fn create_household(&self, household: Household) -> Result<Household> {
        Ok(self.core()?.create(household.to_core()?)?.into())
    }

    /// Changes a household (archive it with `archived = true` when it moves out).
    pub fn update_household(&self, household: Household) -> Result<Household> {
        let new = household.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |h: &mut core::Household| *h = new.clone())?
            .into())
    }

    /// One household.
    pub fn household(&self, household_id: String) -> Result<Household> {
        Ok(self
            .core()?
            .get::<core::Household>(id("household_id", &household_id)?)?
            .into())
    }

    /// The households of a building by unit, archived ones too if asked.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn households_of_building(
        &self,
        building_id: String,
        include_archived: bool,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<HouseholdPage> {
        let building = id("building_id", &building_id)?;
        let all = into_all(
            self.core()?
                .households_of_building(building, include_archived)?,
        );
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(HouseholdPage { items, next_cursor })
    }

    /// Whether this user may add this household where its building puts it (a building head:
    /// in their building; a gridworker: in their grid).
    pub fn may_create_household(&self, household: Household) -> Result<Permission> {
        Ok(self.core()?.may_create(&household.to_core()?)?.into())
    }
}
