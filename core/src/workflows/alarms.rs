//! Fire alarms and micro fire stations (微型消防站), on the phone: raising an alarm at a building
//! dispatches it to a station in the same transaction, and the figure that counts, minutes from
//! the alarm to the crew on scene against the arrival target of the subdistrict's response
//! policy in force when the alarm was raised, is read per alarm and over an area.
//!
//! The crew's steps (acknowledge 接收, en route 出发 and arrive 到达 each with the crew's
//! position, resolve; the command centre's review) are ordinary case events:
//! [`Gridwork::record_case_event`].

use gridwork_domain::ids::Id;

use crate::new_id;
use gridwork_domain::model::{Building, Case, CaseKind, Severity};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::{self, ArrivalStats, CaseAction, CaseEvent};
use serde::Serialize;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::create_op;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records::{self, CaseFilter};
use crate::workflows::response_policy::PolicyBook;

/// The severity of an alarm raised without one: a fire is serious until the crew says
/// otherwise. (Alarm deadlines do not depend on severity; lists and the brief show it.)
pub const DEFAULT_ALARM_SEVERITY: Severity = Severity::High;

/// How long the crew took to reach one alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArrivalFigure {
    /// Minutes from the alarm's opening to the crew's arrival.
    pub minutes: f64,
    /// On scene within the target (五分钟救援圈 under 1-3-10); exactly on it counts as within.
    pub within_target: bool,
    /// The target the alarm is held to, in minutes: the response policy's in force when it
    /// was raised.
    pub target_minutes: f64,
    /// The station the alarm was last dispatched to.
    pub station_id: Option<Id>,
}

/// Arrival figures of the alarms opened in an area during a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaArrivals {
    /// Alarms opened in the period.
    pub alarms: usize,
    /// Of those, alarms with no arrival recorded (still on the way, or the crew forgot).
    pub without_arrival: usize,
    /// Median, worst and share within each alarm's target over the arrivals; `None` with none.
    pub stats: Option<ArrivalStats>,
}

impl Gridwork {
    /// Raises a fire alarm at a building and dispatches it, in one transaction: the alarm case
    /// (area = the building's grid, position = the building's) and its `dispatch` event to
    /// [`workflow::dispatch_target`], the building's assigned station or else the nearest one
    /// on this device. `severity` defaults to [`DEFAULT_ALARM_SEVERITY`].
    ///
    /// Refused, with nothing written, when no station can be chosen (no station on this
    /// device, or a building with neither an assigned station known here nor a position): then
    /// open the alarm with [`Gridwork::open_case`] and dispatch it by hand with
    /// [`Gridwork::record_case_event`].
    pub fn raise_alarm(
        &self,
        building_id: Id,
        title: &str,
        category: &str,
        severity: Option<Severity>,
    ) -> Result<CaseView> {
        let opened_at_ms = self.now_ms();
        let base = self.deadline_policy();
        self.commit_local_then(
            |tx, stamp| {
                let actor = crate::gridwork::user_id_in(tx)?;
                let building: Building =
                    live_state(tx, EntityKind::Building, building_id)?.decode()?;
                let stations = area_records::stations(tx)?;
                let station = workflow::dispatch_target(&building, &stations).ok_or_else(|| {
                ValidationError::new(
                    "alarm.station",
                    if stations.is_empty() {
                        "no micro fire station is known on this device: call the command centre \
                         and dispatch the alarm by hand"
                    } else {
                        "the building has no assigned station known here and no position to find \
                         the nearest: call the command centre and dispatch the alarm by hand"
                    },
                )
            })?;
                let mut case = Case {
                    id: new_id(),
                    kind: CaseKind::Alarm,
                    title: title.to_string(),
                    category: category.to_string(),
                    severity: severity.unwrap_or(DEFAULT_ALARM_SEVERITY),
                    area_id: building.grid_id,
                    building_id: Some(building.id),
                    household_id: None,
                    position: building.position,
                    opened_at_ms,
                    patrol_id: None,
                };
                // The grid's own record is not required here, unlike in `create`: the grid id comes
                // from a building that passed its edge checks, and a building head's phone may hold
                // its building without the grid. A fire alarm is never refused for bookkeeping.
                let open = create_op(stamp, &mut case)?;
                let event = CaseEvent {
                    id: new_id(),
                    case_id: case.id,
                    stamp,
                    actor,
                    action: CaseAction::Dispatch {
                        station_id: station.id,
                    },
                };
                let dispatch = Op {
                    id: new_id(),
                    stamp,
                    entity: EntityKind::Case,
                    entity_id: case.id,
                    body: OpBody::CaseEvent { event },
                };
                Ok((vec![open, dispatch], case.id))
            },
            |tx, case_id| crate::cases::case_view(tx, case_id, base, opened_at_ms),
        )
    }

    /// How long the crew took to reach an alarm, against its target; `None` until the crew
    /// has arrived (and for a case that is not an alarm).
    pub fn alarm_arrival(&self, case_id: Id) -> Result<Option<ArrivalFigure>> {
        let base = self.deadline_policy();
        self.query(|conn| {
            let case: Case = live_state(conn, EntityKind::Case, case_id)?.decode()?;
            if case.kind != CaseKind::Alarm {
                return Ok(None);
            }
            let Some(fold) = crate::store::records::case_fold(conn, case_id)? else {
                return Ok(None);
            };
            let policy = PolicyBook::load(conn, base)?.for_case(conn, &case)?;
            // Judged in whole milliseconds, not in rounded minutes, as the domain's figures are.
            Ok(
                workflow::arrival(&policy, &case, &fold).map(|a| ArrivalFigure {
                    minutes: a.minutes(),
                    within_target: a.within_target(),
                    target_minutes: a.target_ms as f64 / 60_000.0,
                    station_id: fold.dispatched_station,
                }),
            )
        })
    }

    /// Arrival figures of the alarms of an area (and the areas below it) opened in
    /// `[from_ms, to_ms)`, each against the target of the policy in force when it was raised.
    pub fn arrival_stats(&self, area_id: Id, from_ms: u64, to_ms: u64) -> Result<AreaArrivals> {
        let base = self.deadline_policy();
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let cases = area_records::cases(conn, Some(area_id), CaseFilter::OpenedBy(to_ms))?;
            let mut book = PolicyBook::load(conn, base)?;
            let mut alarms = 0;
            let mut arrivals = Vec::new();
            for (case, fold) in cases.iter().filter(|(c, _)| {
                c.kind == CaseKind::Alarm && c.opened_at_ms >= from_ms && c.opened_at_ms < to_ms
            }) {
                alarms += 1;
                let policy = book.for_case(conn, case)?;
                arrivals.extend(workflow::arrival(&policy, case, fold));
            }
            Ok(AreaArrivals {
                alarms,
                without_arrival: alarms - arrivals.len(),
                stats: workflow::arrival_stats(&arrivals),
            })
        })
    }
}
