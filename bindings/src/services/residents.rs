//! [`ResidentService`]: residents (the full ID number only in the single-record view) and the
//! visits key-group residents are due.

use gridwork_domain::model as core;

use super::ResidentService;
use crate::brief::OverdueVisit;
use crate::client::into_all;
use crate::convert::id;
use crate::error::GridworkError;
use crate::model::Resident;
use crate::paging::{self, ResidentPage};
use crate::permission::Permission;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl ResidentService {
    /// Adds a resident. Pass `id = ""` for a new id; an ID number must be a valid GB 11643
    /// number.
    pub fn create_resident(&self, resident: Resident) -> Result<Resident> {
        Ok(self.core()?.create(resident.to_core()?)?.into())
    }

    /// Changes a resident.
    pub fn update_resident(&self, resident: Resident) -> Result<Resident> {
        let new = resident.to_core()?;
        Ok(self
            .core()?
            .update(new.id, |r: &mut core::Resident| *r = new.clone())?
            .into())
    }

    /// One resident (the single-record view): the full ID number when this device's role may
    /// see it, masked otherwise.
    pub fn resident(&self, resident_id: String) -> Result<Resident> {
        Ok(self
            .core()?
            .resident_for_view(id("resident_id", &resident_id)?)?
            .into())
    }

    /// The residents of a household by name, ID numbers masked.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn residents_of_household(
        &self,
        household_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<ResidentPage> {
        let household = id("household_id", &household_id)?;
        let all = into_all(self.core()?.residents_of_household(household)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(ResidentPage { items, next_cursor })
    }

    /// Records a visit to a key-group resident now.
    pub fn record_key_group_visit(&self, resident_id: String) -> Result<Resident> {
        let resident = id("resident_id", &resident_id)?;
        Ok(self.core()?.record_key_group_visit(resident)?.into())
    }

    /// Key-group residents of an area whose visit is overdue.
    pub fn overdue_visits(&self, area_id: String) -> Result<Vec<OverdueVisit>> {
        Ok(into_all(
            self.core()?.overdue_visits(id("area_id", &area_id)?)?,
        ))
    }

    /// Whether this user may add this resident to their household.
    pub fn may_create_resident(&self, resident: Resident) -> Result<Permission> {
        Ok(self.core()?.may_create(&resident.to_core()?)?.into())
    }
}
