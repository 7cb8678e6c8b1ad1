//! [`PatrolService`]: patrols of an area, their visits and findings.

use super::PatrolService;
use crate::cases::{CaseKind, CaseView, Patrol, PatrolSummary, PatrolVisit, Severity};
use crate::convert::id;
use crate::error::GridworkError;
use crate::model::Position;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl PatrolService {
    /// Starts a patrol of an area now (the device must be enrolled).
    pub fn start_patrol(&self, area_id: String) -> Result<Patrol> {
        Ok(self.core()?.start_patrol(id("area_id", &area_id)?)?.into())
    }

    /// Checks in at a building on a patrol under way.
    pub fn visit_building(
        &self,
        patrol_id: String,
        building_id: String,
        position: Option<Position>,
        note: Option<String>,
    ) -> Result<PatrolVisit> {
        Ok(self
            .core()?
            .visit_building(
                id("patrol_id", &patrol_id)?,
                id("building_id", &building_id)?,
                position,
                note.as_deref(),
            )?
            .into())
    }

    /// Reports a hazard or finding at a building on a patrol under way.
    pub fn report_finding(
        &self,
        patrol_id: String,
        building_id: String,
        kind: CaseKind,
        title: String,
        category: String,
        severity: Severity,
    ) -> Result<CaseView> {
        Ok(self
            .core()?
            .report_finding(
                id("patrol_id", &patrol_id)?,
                id("building_id", &building_id)?,
                kind,
                &title,
                &category,
                severity,
            )?
            .into())
    }

    /// Ends a patrol now.
    pub fn end_patrol(&self, patrol_id: String) -> Result<Patrol> {
        Ok(self
            .core()?
            .end_patrol(id("patrol_id", &patrol_id)?)?
            .into())
    }

    /// A patrol with its visits and findings.
    pub fn patrol_summary(&self, patrol_id: String) -> Result<PatrolSummary> {
        Ok(self
            .core()?
            .patrol_summary(id("patrol_id", &patrol_id)?)?
            .into())
    }
}
