//! [`AlarmService`]: fire alarms, the crew's arrival time, and the subdistricts' response
//! policies (1-3-10 unless set).

use super::AlarmService;
use crate::cases::{ArrivalFigure, CaseView, ResponsePolicy, Severity};
use crate::client::into_all;
use crate::convert::id;
use crate::error::GridworkError;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl AlarmService {
    /// A subdistrict's response policies, oldest first, each with when it took effect; empty
    /// when none was set (1-3-10 applies).
    pub fn response_policies(&self, subdistrict_id: String) -> Result<Vec<ResponsePolicy>> {
        Ok(into_all(self.core()?.response_policies(id(
            "subdistrict_id",
            &subdistrict_id,
        )?)?))
    }

    /// The response policy in force now where `area_id` lies.
    pub fn response_policy_in_force(&self, area_id: String) -> Result<ResponsePolicy> {
        Ok(self
            .core()?
            .response_policy_in_force(id("area_id", &area_id)?)?
            .into())
    }

    /// Sets a subdistrict's response policy from now on (an admin's step; the server refuses
    /// anyone else's). Alarms and incidents opened before keep theirs. Returns the history.
    pub fn set_response_policy(
        &self,
        subdistrict_id: String,
        policy: ResponsePolicy,
    ) -> Result<Vec<ResponsePolicy>> {
        Ok(into_all(self.core()?.set_response_policy(
            id("subdistrict_id", &subdistrict_id)?,
            policy.to_core()?,
        )?))
    }

    /// Raises a fire alarm at a building and dispatches it to the building's station (or the
    /// nearest), in one step. `severity` defaults to high.
    pub fn raise_alarm(
        &self,
        building_id: String,
        title: String,
        category: String,
        severity: Option<Severity>,
    ) -> Result<CaseView> {
        Ok(self
            .core()?
            .raise_alarm(
                id("building_id", &building_id)?,
                &title,
                &category,
                severity,
            )?
            .into())
    }

    /// How long the crew took to reach an alarm; `null` until they arrive.
    pub fn alarm_arrival(&self, case_id: String) -> Result<Option<ArrivalFigure>> {
        Ok(self
            .core()?
            .alarm_arrival(id("case_id", &case_id)?)?
            .map(Into::into))
    }
}
