//! The work queue: the open cases a user should act on, most urgent first (红 before 黄 before
//! 绿), and the steps a case can take next (the buttons the app shows).
//!
//! "Mine" is decided from the fold, since a case has no creator field: a case is the user's when
//! it is assigned to them, or when it is assigned to nobody. Unassigned cases on a device are in
//! the device's scope (its grid, its building, its station's alarms), so somebody there must
//! pick them up; alarms and disputes are never assigned (a station and a line of defence work
//! them), so they always show. Cases assigned to someone else are theirs, not mine. A device
//! with no enrolled user sees only the unassigned ones. Recorded in ADR 0008.

use gridwork_domain::ids::Id;
use gridwork_domain::model::Case;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::{Change, decide};
use gridwork_domain::workflow::{self, CaseFold};

use crate::cases::CaseView;
use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, live_state};
use crate::permissions;
use crate::store::area_records::{self, CaseFilter};
use crate::store::records;

impl Gridwork {
    /// The steps the case can take next in its current state that this device's user may take
    /// (their role and scope, by the rule the server enforces: [`crate::permissions`]), by
    /// [`CaseAction::name`](gridwork_domain::workflow::CaseAction::name) (notes and photos are
    /// always possible and not listed). Empty for a closed case.
    pub fn available_actions(&self, case_id: Id) -> Result<Vec<&'static str>> {
        self.query(|conn| {
            let state = live_state(conn, EntityKind::Case, case_id)?;
            let fold = records::case_fold(conn, case_id)?.ok_or_else(|| Error::NotFound {
                kind: "case",
                id: case_id.to_string(),
            })?;
            let view = permissions::scope_view(conn)?;
            let place = match &view {
                Some(_) => Some(permissions::place(conn, &state)?),
                None => None,
            };
            let case: Case = state.decode()?;
            Ok(workflow::available_actions_where(
                case.kind,
                &fold.state,
                |action| match (&view, &place) {
                    (Some(view), Some(case)) => {
                        decide(view, Change::Event { case, action }).is_allowed()
                    }
                    _ => true,
                },
            ))
        })
    }

    /// Every open case on the device, most urgent first: live fire alarms (a fire 10 s overdue
    /// before a hazard overdue for weeks), incidents nobody has reached yet, then red (most
    /// overdue first), yellow, green by due time, then those with no running deadline. Colours
    /// use the corrected clock ([`Gridwork::now_ms`]), [`Gridwork::deadline_policy`] and each
    /// case's subdistrict's response policy.
    pub fn open_cases(&self) -> Result<Vec<CaseView>> {
        self.queue(|_| true)
    }

    /// "My open cases, most urgent first": the open cases assigned to this device's user
    /// ([`Gridwork::user_id`]) or to nobody, ordered as [`Gridwork::open_cases`].
    pub fn my_open_cases(&self) -> Result<Vec<CaseView>> {
        let me = self.user_id()?;
        self.queue(|fold| fold.assignee.is_none() || fold.assignee == me)
    }

    fn queue(&self, keep: impl Fn(&CaseFold) -> bool) -> Result<Vec<CaseView>> {
        let base = self.deadline_policy();
        let now = self.now_ms();
        self.query(|conn| {
            let cases = area_records::cases(conn, None, CaseFilter::Open)?;
            crate::cases::views_of(
                conn,
                base,
                cases.into_iter().filter(|(_, fold)| keep(fold)),
                now,
            )
        })
    }
}
