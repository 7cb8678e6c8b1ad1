//! 12345 hotline cases (市民热线) on the phone: the command centre takes a case in from the
//! platform (received), accepts it (签收) and reviews and assigns it (审核交办) to a named
//! assignee, with a handling deadline when the platform gives one; later the resident is called
//! back (回访反馈), and the answer, satisfied or not, is a field of that step chosen by the
//! caller, never read from a note's text.
//!
//! The intake is three steps, each its own transaction (the same as tapping them one by one):
//! a crash between them leaves a case received or accepted, which the queue shows and the
//! dispatcher carries on.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Case, CaseKind};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::CaseAction;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::Gridwork;

/// Who handles a hotline case and by when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotlineAssignment {
    /// The user who handles it (审核办理).
    pub assignee: Id,
    /// The handling deadline the platform set (ms since the epoch); `None`: the policy's days
    /// by severity.
    pub deadline_ms: Option<u64>,
}

impl Gridwork {
    /// Takes a 12345 case in: opens it (`case.kind` must be [`CaseKind::Hotline`], refused on
    /// `case.kind` otherwise) and, with an assignment, accepts it (签收) and assigns it
    /// (审核交办) to the assignee. Returns the case as it stands after the last step.
    pub fn receive_hotline_case(
        &self,
        case: Case,
        assignment: Option<HotlineAssignment>,
    ) -> Result<CaseView> {
        if case.kind != CaseKind::Hotline {
            return Err(
                ValidationError::new("case.kind", "a 12345 case is of kind hotline").into(),
            );
        }
        let view = self.open_case(case)?;
        let Some(assignment) = assignment else {
            return Ok(view);
        };
        let id = view.case.id;
        self.record_case_event(id, CaseAction::Accept)?;
        self.record_case_event(
            id,
            CaseAction::ReviewAssign {
                assignee: Some(assignment.assignee),
                deadline_ms: assignment.deadline_ms,
            },
        )
    }
}
