//! Incidents (事件) on the phone: an event the command centre receives (a 110 non-police event,
//! an event a gridworker reports or a department passes on, a dispute at the scene) and
//! dispatches to its hands and feet (派单), timed in minutes by the subdistrict's response
//! policy (1-3-10 unless an admin set another): received, responding, on scene, reported back.
//!
//! Raising and dispatching are two steps, each its own transaction; a crash between them
//! leaves the incident raised, red within a minute at the head of the queue, where the
//! dispatcher dispatches it.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Case, CaseKind};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::CaseAction;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::Gridwork;

impl Gridwork {
    /// Opens an incident (`case.kind` must be [`CaseKind::Incident`], refused on `case.kind`
    /// otherwise) and, with a responder, dispatches it to them (`assign`). The responder then
    /// acknowledges, sets off and arrives with [`Gridwork::record_case_event`].
    pub fn raise_incident(&self, case: Case, responder: Option<Id>) -> Result<CaseView> {
        if case.kind != CaseKind::Incident {
            return Err(
                ValidationError::new("case.kind", "an incident is of kind incident").into(),
            );
        }
        let view = self.open_case(case)?;
        match responder {
            Some(responder) => self.record_case_event(
                view.case.id,
                CaseAction::Assign {
                    assignee: Some(responder),
                    deadline_ms: None,
                },
            ),
            None => Ok(view),
        }
    }
}
