//! [`RegistrationService`]: tenants' stays in rooms, what is still unregistered, and how long a
//! tenant's data stays on the phone.

use gridwork_domain::model as core;

use super::RegistrationService;
use crate::brief::{RegistrationRate, UnregisteredRoom, UnregisteredTenant};
use crate::client::into_all;
use crate::convert::{count_in, day, id, narrow, opt_day, wide};
use crate::error::GridworkError;
use crate::model::Registration;
use crate::paging::{self, RegistrationPage, StayPage};
use crate::permission::Permission;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl RegistrationService {
    /// Days after check-out before a tenant's personal data leaves this phone (the
    /// subdistrict's policy; 90 unless set). The registration ledger stays on the server.
    pub fn tenant_retention_days(&self) -> Result<i32> {
        Ok(narrow(self.core()?.tenant_retention_days()?))
    }

    /// Sets that period, then purges the stays it now puts past retention (and their tenants
    /// when no other stay keeps them); returns how many records left the phone. Refused with
    /// `InvalidInput` when negative or beyond 3,650 days (ten years).
    pub fn set_tenant_retention_days(&self, days: i32) -> Result<i64> {
        let days = count_in("days", days)?;
        self.core()?.set_tenant_retention_days(days)?;
        Ok(wide(self.core()?.purge_expired_tenants()?))
    }

    /// Checks a tenant into a room from `check_in` (`YYYY-MM-DD`), expected to leave on
    /// `expected_end` if known.
    pub fn check_in(
        &self,
        resident_id: String,
        household_id: String,
        check_in: String,
        expected_end: Option<String>,
    ) -> Result<Registration> {
        Ok(self
            .core()?
            .check_in(
                id("resident_id", &resident_id)?,
                id("household_id", &household_id)?,
                day("check_in", &check_in)?,
                opt_day("expected_end", expected_end.as_deref())?,
            )?
            .into())
    }

    /// Checks a tenant out on `day` (`YYYY-MM-DD`).
    pub fn check_out(&self, registration_id: String, day_text: String) -> Result<Registration> {
        Ok(self
            .core()?
            .check_out(
                id("registration_id", &registration_id)?,
                day("day", &day_text)?,
            )?
            .into())
    }

    /// A resident's stays, newest first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn registrations_of_resident(
        &self,
        resident_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<RegistrationPage> {
        let resident = id("resident_id", &resident_id)?;
        let all = into_all(self.core()?.registrations_of_resident(resident)?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(RegistrationPage { items, next_cursor })
    }

    /// Stays in an area expected to end within `within_days` of `today`.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn expiring_stays(
        &self,
        area_id: String,
        today: String,
        within_days: i32,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<StayPage> {
        let all = into_all(self.core()?.expiring_stays(
            id("area_id", &area_id)?,
            day("today", &today)?,
            count_in("within_days", within_days)?,
        )?);
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(StayPage { items, next_cursor })
    }

    /// Stays in an area past their expected end and not checked out.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn overdue_stays(
        &self,
        area_id: String,
        today: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<StayPage> {
        let all = into_all(
            self.core()?
                .overdue_stays(id("area_id", &area_id)?, day("today", &today)?)?,
        );
        let (items, next_cursor) = paging::page(all, limit, cursor.as_deref())?;
        Ok(StayPage { items, next_cursor })
    }

    /// An area's registration per person and per room.
    pub fn registration_rate(&self, area_id: String) -> Result<RegistrationRate> {
        Ok(self
            .core()?
            .registration_rate(id("area_id", &area_id)?)?
            .area
            .into())
    }

    /// Rented rooms of an area where someone is still to register.
    pub fn unregistered_rooms(&self, area_id: String) -> Result<Vec<UnregisteredRoom>> {
        Ok(into_all(
            self.core()?.unregistered_rooms(id("area_id", &area_id)?)?,
        ))
    }

    /// People of an area living in rented rooms without an open stay in them.
    pub fn unregistered_tenants(&self, area_id: String) -> Result<Vec<UnregisteredTenant>> {
        Ok(into_all(
            self.core()?
                .unregistered_tenants(id("area_id", &area_id)?)?,
        ))
    }

    /// Whether this user may check a tenant into a room, i.e. create a registration of
    /// `resident_id` in `household_id` (`check_in`'s question, asked before the form).
    pub fn may_create_registration(
        &self,
        resident_id: String,
        household_id: String,
    ) -> Result<Permission> {
        let stay = core::Registration {
            id: gridwork_core::new_id(),
            resident_id: id("resident_id", &resident_id)?,
            household_id: id("household_id", &household_id)?,
            check_in: chrono::NaiveDate::default(),
            expected_end: None,
            check_out: None,
        };
        Ok(self.core()?.may_create(&stay)?.into())
    }
}
