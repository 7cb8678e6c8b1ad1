//! Cases on the device: opening them, recording lifecycle events (refused locally when the
//! lifecycle does not allow them), and reading a case with its state, deadline and colour.

use gridwork_domain::ids::Id;
use gridwork_domain::model::Case;
use gridwork_domain::new_id;
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::workflow::{
    self, CaseAction, CaseEvent, CaseFold, Colour, Deadline, DeadlinePolicy,
};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, live_state};
use crate::store::records;

/// A case as a list or detail view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseView {
    pub case: Case,
    pub fold: CaseFold,
    /// The next deadline of an open case.
    pub deadline: Option<Deadline>,
    /// Its colour now (红黄绿).
    pub colour: Option<Colour>,
}

/// One event of a case's timeline, in HLC order, with the reason when the fold could not apply
/// it (a conflict between devices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub event: CaseEvent,
    pub flagged: Option<String>,
}

impl CaseView {
    pub(crate) fn build(case: Case, fold: CaseFold, policy: &DeadlinePolicy, now_ms: u64) -> Self {
        let deadline = workflow::next_deadline(policy, &case, &fold);
        let colour = deadline
            .as_ref()
            .map(|d| workflow::colour(policy, d, now_ms));
        CaseView {
            case,
            fold,
            deadline,
            colour,
        }
    }
}

impl Gridwork {
    /// Opens a case (a hazard found on patrol, a dispute, an alarm, a hotline request). When
    /// `opened_at_ms` is 0 it is set to the device's corrected now.
    pub fn open_case(&self, mut case: Case) -> Result<CaseView> {
        if case.opened_at_ms == 0 {
            case.opened_at_ms = self.now_ms();
        }
        let case = self.create(case)?;
        self.case(case.id)
    }

    /// Records a step of a case's lifecycle (or a note or photo). Refused with a clear error
    /// when the case's current state does not allow it.
    pub fn record_case_event(&self, case_id: Id, action: CaseAction) -> Result<CaseView> {
        let actor = self.user_id()?;
        self.commit_local(|tx, stamp| {
            let case: Case = live_state(tx, EntityKind::Case, case_id)?.decode()?;
            let fold = records::case_fold(tx, case_id)?.ok_or_else(|| Error::NotFound {
                kind: "case",
                id: case_id.to_string(),
            })?;
            workflow::apply(case.kind, &fold.state, &action)?;
            let event = CaseEvent {
                id: new_id(),
                case_id,
                stamp,
                actor,
                action,
            };
            let op = Op {
                id: new_id(),
                stamp,
                entity: EntityKind::Case,
                entity_id: case_id,
                body: OpBody::CaseEvent { event },
            };
            Ok((vec![op], ()))
        })?;
        self.case(case_id)
    }

    /// A case with its state, next deadline and colour.
    pub fn case(&self, case_id: Id) -> Result<CaseView> {
        let policy = self.deadline_policy();
        let now = self.now_ms();
        self.read(|conn| {
            let case: Case = live_state(conn, EntityKind::Case, case_id)?.decode()?;
            let fold = records::case_fold(conn, case_id)?.ok_or_else(|| Error::NotFound {
                kind: "case",
                id: case_id.to_string(),
            })?;
            Ok(CaseView::build(case, fold, &policy, now))
        })
    }

    /// A case's history in HLC order; events the fold could not apply are flagged.
    pub fn case_timeline(&self, case_id: Id) -> Result<Vec<TimelineEntry>> {
        self.read(|conn| {
            live_state(conn, EntityKind::Case, case_id)?;
            let mut events = records::case_events(conn, case_id)?;
            events.sort_by_key(|e| (e.stamp, e.id));
            let fold = records::case_fold(conn, case_id)?;
            Ok(events
                .into_iter()
                .map(|event| {
                    let flagged = fold.as_ref().and_then(|f| {
                        f.flagged
                            .iter()
                            .find(|x| x.event_id == event.id)
                            .map(|x| x.reason.clone())
                    });
                    TimelineEntry { event, flagged }
                })
                .collect())
        })
    }
}
