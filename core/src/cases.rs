//! Cases on the device: opening them, recording lifecycle events (refused locally when the
//! lifecycle does not allow them), reading a case with its state, deadline and colour, and its
//! timeline: who took each step, when, with what it carried (the line of defence, the reason,
//! the agreement, the assignee, the position) and the state it led to.

use crate::new_id;
use gridwork_domain::ids::Id;
use gridwork_domain::model::Case;
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::workflow::{
    self, CaseAction, CaseEvent, CaseFold, CaseState, Colour, Deadline, DeadlinePolicy, UrgencyKey,
};
use serde::Serialize;

use crate::error::Result;
use crate::gridwork::{Gridwork, live_state};
use crate::store::records;
use crate::workflows::response_policy::PolicyBook;

/// A case as a list or detail view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseView {
    pub case: Case,
    pub fold: CaseFold,
    /// The deadline that governs the case's colour now: the step it waits for, or for a fire
    /// alarm not yet reached, the crew's arrival target when that is more urgent.
    pub deadline: Option<Deadline>,
    /// Its colour now (红黄绿).
    pub colour: Option<Colour>,
    /// Whether its minute-level response is under way (a fire not yet out, an incident not yet
    /// reached): these head every list.
    pub live: bool,
    /// Where it sorts in "most urgent first", computed with the figures that time it.
    #[serde(skip)]
    pub(crate) urgency: UrgencyKey,
}

/// One event of a case's timeline, in HLC order, with the reason when the fold could not apply
/// it (a conflict between devices).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// The event: when (`stamp`), who (`actor`, the user of the device that recorded it) and
    /// the step with what it carries (`action`; [`CaseAction::details`] lists it).
    pub event: CaseEvent,
    /// The state the step led to; `None` when it was not applied.
    pub state: Option<CaseState>,
    /// Why the step was not applied (a conflict between devices).
    pub flagged: Option<String>,
}

impl CaseView {
    /// The view of `case` at `now_ms` by `policy`, the figures that time it (the device's with
    /// its subdistrict's response policies: [`PolicyBook`]).
    pub(crate) fn build(case: Case, fold: CaseFold, policy: &DeadlinePolicy, now_ms: u64) -> Self {
        let supervised = workflow::supervise(policy, &case, &fold, now_ms);
        let urgency = workflow::urgency_key(policy, &case, &fold, now_ms);
        let live = workflow::is_live(&case, &fold);
        CaseView {
            deadline: supervised.map(|(d, _)| d),
            colour: supervised.map(|(_, c)| c),
            live,
            urgency,
            case,
            fold,
        }
    }
}

/// Sorts views most urgent first (see [`workflow::UrgencyKey`]), each by the figures that
/// timed it.
pub(crate) fn most_urgent_first(views: &mut [CaseView]) {
    views.sort_by_key(|v| v.urgency);
}

/// Views of `cases` at `now_ms`, most urgent first, each timed by its subdistrict's policy.
pub(crate) fn views_of(
    conn: &rusqlite::Connection,
    base: DeadlinePolicy,
    cases: impl IntoIterator<Item = (Case, CaseFold)>,
    now_ms: u64,
) -> Result<Vec<CaseView>> {
    let mut book = PolicyBook::load(conn, base)?;
    let mut views = Vec::new();
    for (case, fold) in cases {
        let policy = book.for_case(conn, &case)?;
        views.push(CaseView::build(case, fold, &policy, now_ms));
    }
    most_urgent_first(&mut views);
    Ok(views)
}

/// A case's view at `now_ms`, read on `conn` (a reader, or the writer inside the transaction
/// that just changed the case).
pub(crate) fn case_view(
    conn: &rusqlite::Connection,
    case_id: Id,
    base: DeadlinePolicy,
    now_ms: u64,
) -> Result<CaseView> {
    let case: Case = live_state(conn, EntityKind::Case, case_id)?.decode()?;
    let fold = records::case_fold_of(conn, &case)?;
    let policy = PolicyBook::load(conn, base)?.for_case(conn, &case)?;
    Ok(CaseView::build(case, fold, &policy, now_ms))
}

impl Gridwork {
    /// Opens a case (a hazard found on patrol, a dispute, an alarm, a hotline request). When
    /// `opened_at_ms` is 0 it is set to the device's corrected now.
    pub fn open_case(&self, mut case: Case) -> Result<CaseView> {
        let now = self.now_ms();
        if case.opened_at_ms == 0 {
            case.opened_at_ms = now;
        }
        let base = self.deadline_policy();
        self.commit_local_then(
            |tx, stamp| crate::gridwork::create_in(tx, stamp, case),
            |tx, case| case_view(tx, case.id, base, now),
        )
    }

    /// Records a step of a case's lifecycle (or a note or photo). Refused with a clear error
    /// when the case's current state does not allow it.
    pub fn record_case_event(&self, case_id: Id, action: CaseAction) -> Result<CaseView> {
        self.record_case_event_with(case_id, action, |_| Ok(()))
    }

    /// [`Gridwork::record_case_event`] that also runs `also` in the step's transaction (a
    /// photo's blobs queued for upload with it).
    pub(crate) fn record_case_event_with(
        &self,
        case_id: Id,
        action: CaseAction,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<CaseView> {
        let base = self.deadline_policy();
        let now = self.now_ms();
        self.commit_local_then(
            |tx, stamp| {
                let actor = crate::gridwork::user_id_in(tx)?;
                let case: Case = live_state(tx, EntityKind::Case, case_id)?.decode()?;
                let fold = records::case_fold_of(tx, &case)?;
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
                also(tx)?;
                Ok((vec![op], ()))
            },
            |tx, ()| case_view(tx, case_id, base, now),
        )
    }

    /// A case with its state, governing deadline and colour, timed by its subdistrict's
    /// response policy.
    pub fn case(&self, case_id: Id) -> Result<CaseView> {
        let base = self.deadline_policy();
        let now = self.now_ms();
        self.query(|conn| case_view(conn, case_id, base, now))
    }

    /// A case's history in HLC order (duplicates dropped, as the fold drops them), each step
    /// with the state it led to; events the fold could not apply are flagged with the reason.
    pub fn case_timeline(&self, case_id: Id) -> Result<Vec<TimelineEntry>> {
        self.query(|conn| {
            let case: Case = live_state(conn, EntityKind::Case, case_id)?.decode()?;
            let mut events = records::case_events(conn, case_id)?;
            events.sort_by_key(|e| (e.stamp, e.id));
            events.dedup_by_key(|e| e.id);
            let fold = records::case_fold(conn, case_id)?;
            let mut state = workflow::initial_state(case.kind);
            Ok(events
                .into_iter()
                .map(|event| {
                    let flagged = fold.as_ref().and_then(|f| {
                        f.flagged
                            .iter()
                            .find(|x| x.event_id == event.id)
                            .map(|x| x.reason.clone())
                    });
                    let after = match flagged {
                        Some(_) => None,
                        // The fold applied it in this same order, so it applies again here.
                        None => {
                            state =
                                workflow::apply(case.kind, &state, &event.action).unwrap_or(state);
                            Some(state)
                        }
                    };
                    TimelineEntry {
                        event,
                        state: after,
                        flagged,
                    }
                })
                .collect())
        })
    }
}
