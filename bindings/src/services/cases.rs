//! [`CaseService`]: opening cases, their steps and timelines, what this user may do on them,
//! and the paged lists of open cases.

use super::CaseService;
use crate::case_codes::CaseStep;
use crate::cases::{CaseAction, CaseEvent, CaseView, NewCase};
use crate::client::{case_page, into_all};
use crate::convert::{id, opt_ms_in};
use crate::error::GridworkError;
use crate::paging::CasePage;
use crate::permission::Permission;

type Result<T, E = GridworkError> = std::result::Result<T, E>;

#[uniffi::export]
impl CaseService {
    /// Opens a case (a hazard, a dispute, a hotline request) now.
    pub fn open_case(&self, new_case: NewCase) -> Result<CaseView> {
        // Not `case`: parameter names reach the C header, where `case` is a keyword.
        Ok(self.core()?.open_case(new_case.to_core()?)?.into())
    }

    /// Takes a 12345 case in (`new_case.kind` must be `Hotline`) and, with an assignee,
    /// accepts it and assigns it to them, with the platform's handling deadline if given.
    pub fn receive_hotline_case(
        &self,
        new_case: NewCase,
        assignee: Option<String>,
        deadline_ms: Option<i64>,
    ) -> Result<CaseView> {
        let deadline_ms = opt_ms_in("deadline_ms", deadline_ms)?;
        let assignment = crate::convert::opt_id("assignee", assignee.as_deref())?.map(|assignee| {
            gridwork_core::HotlineAssignment {
                assignee,
                deadline_ms,
            }
        });
        Ok(self
            .core()?
            .receive_hotline_case(new_case.to_core()?, assignment)?
            .into())
    }

    /// Opens an incident (`new_case.kind` must be `Incident`) and, with a responder,
    /// dispatches it to them.
    pub fn raise_incident(&self, new_case: NewCase, responder: Option<String>) -> Result<CaseView> {
        let responder = crate::convert::opt_id("responder", responder.as_deref())?;
        Ok(self
            .core()?
            .raise_incident(new_case.to_core()?, responder)?
            .into())
    }

    /// Records a step of a case's lifecycle; refused when the case's state does not allow it.
    pub fn record_case_event(&self, case_id: String, action: CaseAction) -> Result<CaseView> {
        let case = id("case_id", &case_id)?;
        Ok(self
            .core()?
            .record_case_event(case, action.to_core()?)?
            .into())
    }

    /// One case with its state, deadline and colour.
    pub fn case(&self, case_id: String) -> Result<CaseView> {
        Ok(self.core()?.case(id("case_id", &case_id)?)?.into())
    }

    /// A case's events, oldest first, conflicting ones marked.
    pub fn case_timeline(&self, case_id: String) -> Result<Vec<CaseEvent>> {
        Ok(into_all(
            self.core()?.case_timeline(id("case_id", &case_id)?)?,
        ))
    }

    /// The steps the case allows now that this user may take: the buttons to show (each
    /// with its stable code, `caseStepCode`). Before the first sync (role not yet known) every
    /// step the case allows is listed and the server decides.
    pub fn available_actions(&self, case_id: String) -> Result<Vec<CaseStep>> {
        let actions = self.core()?.available_actions(id("case_id", &case_id)?)?;
        Ok(actions
            .into_iter()
            .filter_map(crate::case_codes::step_of)
            .collect())
    }

    /// Whether this user may record `action` on the case (their role and scope, by the rule
    /// the server enforces), with the reason when not.
    pub fn may_act(&self, case_id: String, action: CaseAction) -> Result<Permission> {
        let case = id("case_id", &case_id)?;
        Ok(self.core()?.may_act(case, &action.to_core()?)?.into())
    }

    /// Whether this user may open this case (a building head: hazards in their building).
    pub fn may_open_case(&self, new_case: NewCase) -> Result<Permission> {
        Ok(self.core()?.may_create(&new_case.to_core()?)?.into())
    }

    /// Every open case on the device, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn open_cases(&self, limit: i32, cursor: Option<String>) -> Result<CasePage> {
        case_page(self.core()?.open_cases()?, limit, cursor)
    }

    /// Open cases assigned to (or opened by) the enrolled user, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn my_open_cases(&self, limit: i32, cursor: Option<String>) -> Result<CasePage> {
        case_page(self.core()?.my_open_cases()?, limit, cursor)
    }

    /// Open cases of an area and the areas below it, most urgent first.
    ///
    /// Paged: `limit` items at most (1 to 500), after `cursor` (`null` for the first page;
    /// then the page's `nextCursor`).
    pub fn open_cases_in_area(
        &self,
        area_id: String,
        limit: i32,
        cursor: Option<String>,
    ) -> Result<CasePage> {
        let area = id("area_id", &area_id)?;
        case_page(self.core()?.open_cases_in_area(area)?, limit, cursor)
    }
}
