//! Fire alarms and micro fire stations (微型消防站), on the phone: raising an alarm at a building
//! dispatches it to a station in the same transaction, and the figure that counts, minutes from
//! the alarm to the crew on scene, is read per alarm and over an area.
//!
//! The crew's steps (acknowledge 接收, en route 出发, arrive 到达 with a position, resolve,
//! review) are ordinary case events: [`Gridwork::record_case_event`].

use gridwork_domain::ids::{Id, new_id};
use gridwork_domain::model::{Building, Case, CaseKind, Severity};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::{
    self, ARRIVAL_TARGET_MS, ArrivalStats, CaseAction, CaseEvent, arrival_minutes,
};
use serde::Serialize;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::create_op;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records::{self, CaseFilter};

/// The severity of an alarm raised without one: a fire is serious until the crew says
/// otherwise. (Alarm deadlines do not depend on severity; lists and the brief show it.)
pub const DEFAULT_ALARM_SEVERITY: Severity = Severity::High;

/// How long the crew took to reach one alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArrivalFigure {
    /// Minutes from the alarm's opening to the crew's arrival.
    pub minutes: f64,
    /// On scene within five minutes (五分钟救援圈); exactly five counts as within.
    pub within_target: bool,
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
    /// Median, worst and share within five minutes over the arrivals; `None` with none.
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
        let actor = self.user_id()?;
        let opened_at_ms = self.now_ms();
        let case_id = self.commit_local(|tx, stamp| {
            let building: Building = live_state(tx, EntityKind::Building, building_id)?.decode()?;
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
        })?;
        self.case(case_id)
    }

    /// How long the crew took to reach an alarm; `None` until the crew has arrived (and for a
    /// case that is not an alarm).
    pub fn alarm_arrival(&self, case_id: Id) -> Result<Option<ArrivalFigure>> {
        let view = self.case(case_id)?;
        Ok(arrival_figure(&view.case, &view.fold))
    }

    /// Arrival figures of the alarms of an area (and the areas below it) opened in
    /// `[from_ms, to_ms)`.
    pub fn arrival_stats(&self, area_id: Id, from_ms: u64, to_ms: u64) -> Result<AreaArrivals> {
        let cases = self.read(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            area_records::cases(conn, Some(area_id), CaseFilter::OpenedBy(to_ms))
        })?;
        let alarms: Vec<_> = cases
            .iter()
            .filter(|(c, _)| c.kind == CaseKind::Alarm)
            .filter(|(c, _)| c.opened_at_ms >= from_ms && c.opened_at_ms < to_ms)
            .collect();
        let minutes: Vec<f64> = alarms
            .iter()
            .filter_map(|(c, f)| arrival_minutes(c, f))
            .collect();
        Ok(AreaArrivals {
            alarms: alarms.len(),
            without_arrival: alarms.len() - minutes.len(),
            stats: workflow::arrival_stats(&minutes),
        })
    }
}

fn arrival_figure(case: &Case, fold: &workflow::CaseFold) -> Option<ArrivalFigure> {
    let minutes = arrival_minutes(case, fold)?;
    // Judged in whole milliseconds, not in rounded minutes, as the domain's figures are.
    let took_ms = fold.arrived_at_ms?.saturating_sub(case.opened_at_ms);
    Some(ArrivalFigure {
        minutes,
        within_target: took_ms <= ARRIVAL_TARGET_MS,
        station_id: fold.dispatched_station,
    })
}
