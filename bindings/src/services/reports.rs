//! [`ReportService`]: the weekly brief for the Tuesday meeting.

use super::ReportService;
use crate::brief::WeeklyBrief;
use crate::convert::{day, id};
use crate::error::GridworkError;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl ReportService {
    /// The Monday (`YYYY-MM-DD`) of the week the Tuesday meeting reviews today: the previous
    /// Monday–Sunday.
    pub fn review_week(&self) -> Result<String> {
        Ok(crate::convert::day_text(self.core()?.review_week()))
    }

    /// The weekly brief of an area for the seven days from `week_start` (`YYYY-MM-DD`, the
    /// Monday; `review_week()` for the Tuesday meeting's).
    pub fn weekly_brief(&self, area_id: String, week_start: String) -> Result<WeeklyBrief> {
        Ok(self
            .core()?
            .weekly_brief(id("area_id", &area_id)?, day("week_start", &week_start)?)?
            .into())
    }
}
