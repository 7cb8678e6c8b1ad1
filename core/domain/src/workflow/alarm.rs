//! Fire alarms and micro fire stations (微型消防站): which station to call, and the figure that
//! counts, the time from the alarm to the crew on scene, against the crew's arrival target of
//! the response policy in force when the alarm was raised (the five-minute rescue circle,
//! 五分钟半径灭火救援圈, unless the subdistrict set another). Incidents are reached against their
//! policy's on-scene minutes the same way.

use serde::{Deserialize, Serialize};

use crate::model::{Building, Case, CaseKind, Station};
use crate::validate::Position;
use crate::workflow::case_lifecycle::CaseFold;
use crate::workflow::deadline::DeadlinePolicy;

/// The fire crew's arrival target of the built-in 1-3-10 policy: on scene within five minutes
/// of the alarm (五分钟救援圈).
pub const ARRIVAL_TARGET_MS: u64 = 5 * 60 * 1000;

const MINUTE_MS: f64 = 60_000.0;

/// The station nearest to `position` as the crow flies; `None` when there is no station.
/// Two stations at the same distance: the smaller id wins, so every device calls the same one.
pub fn nearest_station<'a>(position: &Position, stations: &'a [Station]) -> Option<&'a Station> {
    stations.iter().min_by(|a, b| {
        let (da, db) = (
            position.distance_m(&a.position),
            position.distance_m(&b.position),
        );
        da.total_cmp(&db).then_with(|| a.id.cmp(&b.id))
    })
}

/// The station to dispatch an alarm in `building` to: the building's assigned station when it
/// is among `stations` (it knows the building and its water points), else the nearest one to
/// the building, else `None` (no station known, or a building with no position: the dispatcher
/// chooses).
pub fn dispatch_target<'a>(building: &Building, stations: &'a [Station]) -> Option<&'a Station> {
    if let Some(assigned) = building.station_id
        && let Some(station) = stations.iter().find(|s| s.id == assigned)
    {
        return Some(station);
    }
    nearest_station(building.position.as_ref()?, stations)
}

/// Minutes from the opening of an alarm or incident to the crew (or responder) on scene;
/// `None` for another kind of case or before anyone arrived. A crew whose phone stamped the
/// arrival before the opening (a clock wrong before its correction) counts as 0.
pub fn arrival_minutes(case: &Case, fold: &CaseFold) -> Option<f64> {
    if !case.kind.is_minute_timed() {
        return None;
    }
    let arrived = fold.arrived_at_ms?;
    Some(arrived.saturating_sub(case.opened_at_ms) as f64 / MINUTE_MS)
}

/// One arrival and the target it is held to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Arrival {
    /// Milliseconds from the opening to the arrival (0 for an arrival stamped before it).
    pub took_ms: u64,
    /// The target of the response policy in force at the opening: the fire crew's arrival
    /// target for an alarm, the on-scene minutes for an incident.
    pub target_ms: u64,
}

impl Arrival {
    /// Minutes from the opening to the arrival.
    pub fn minutes(&self) -> f64 {
        self.took_ms as f64 / MINUTE_MS
    }

    /// On scene within the target, judged in milliseconds: exactly on the target counts as
    /// within.
    pub fn within_target(&self) -> bool {
        self.took_ms <= self.target_ms
    }
}

/// The arrival at an alarm or incident, with its target by `policy` (the policy in force when
/// the case was opened); `None` before anyone arrived and for other kinds.
pub fn arrival(policy: &DeadlinePolicy, case: &Case, fold: &CaseFold) -> Option<Arrival> {
    let response = policy.response_for(case);
    let target_ms = match case.kind {
        CaseKind::Alarm => response.fire_arrival_target_ms,
        CaseKind::Incident => response.on_scene_ms,
        _ => return None,
    };
    Some(Arrival {
        took_ms: fold.arrived_at_ms?.saturating_sub(case.opened_at_ms),
        target_ms,
    })
}

/// Arrival figures over a set of alarms (or incidents), for the weekly brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalStats {
    /// How many arrivals the figures are over.
    pub count: usize,
    /// The median (the mean of the two middle values for an even count).
    pub median_minutes: f64,
    /// The slowest arrival.
    pub worst_minutes: f64,
    /// The share (0–1) of arrivals within their policy's target, the target exactly counting
    /// as within.
    pub share_within_target: f64,
    /// The target in minutes when every arrival was held to the same one (`None` when the
    /// policy changed within the period and the targets differ).
    pub target_minutes: Option<f64>,
}

/// The figures over a set of arrivals; `None` when there is none.
pub fn arrival_stats(arrivals: &[Arrival]) -> Option<ArrivalStats> {
    if arrivals.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = arrivals.iter().map(Arrival::minutes).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let within = arrivals.iter().filter(|a| a.within_target()).count();
    let first = arrivals[0].target_ms;
    let target_minutes = arrivals
        .iter()
        .all(|a| a.target_ms == first)
        .then_some(first as f64 / MINUTE_MS);
    Some(ArrivalStats {
        count: n,
        median_minutes: median,
        worst_minutes: sorted[n - 1],
        share_within_target: within as f64 / n as f64,
        target_minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BuildingKind, Severity};
    use crate::workflow::case_event::CaseAction as A;
    use crate::workflow::response_policy::ResponsePolicy;
    use crate::workflow::test_support::*;

    fn station(n: u128, name: &str, position: Position) -> Station {
        Station {
            id: id(n),
            name: name.into(),
            area_id: id(0xA4EA),
            position,
            phone: None,
        }
    }

    fn building(station_id: Option<u128>, position: Option<Position>) -> Building {
        Building {
            id: id(0xB1),
            address_code: "3301060010010010001".into(),
            address: "梅花碑社区 3 幢".into(),
            kind: BuildingKind::MixedUse,
            grid_id: id(0x61),
            micro_grid_id: None,
            head_user_id: None,
            station_id: station_id.map(id),
            position,
        }
    }

    /// Three stations along a street in Hangzhou, roughly 1 km apart.
    fn stations() -> Vec<Station> {
        vec![
            station(1, "湖滨站", pos(30.2600, 120.1650)),
            station(2, "武林站", pos(30.2700, 120.1650)),
            station(3, "朝晖站", pos(30.2800, 120.1650)),
        ]
    }

    #[test]
    fn the_nearest_station_is_called() {
        let stations = stations();
        let smoke = pos(30.2690, 120.1655);
        assert_eq!(nearest_station(&smoke, &stations).unwrap().name, "武林站");
        assert_eq!(nearest_station(&smoke, &[]), None);
    }

    #[test]
    fn two_stations_at_the_same_distance_give_the_same_answer_everywhere() {
        let here = pos(30.2650, 120.1650);
        let a = station(7, "A", pos(30.2600, 120.1650));
        let b = station(5, "B", pos(30.2700, 120.1650));
        let d_a = here.distance_m(&a.position);
        let d_b = here.distance_m(&b.position);
        assert!((d_a - d_b).abs() < 1e-6, "the stations are equidistant");
        let forwards = [a.clone(), b.clone()];
        let backwards = [b, a];
        let pick1 = nearest_station(&here, &forwards).unwrap().id;
        let pick2 = nearest_station(&here, &backwards).unwrap().id;
        assert_eq!(pick1, pick2);
    }

    #[test]
    fn a_building_with_an_assigned_station_calls_it_even_if_another_is_nearer() {
        let stations = stations();
        let b = building(Some(3), Some(pos(30.2601, 120.1650)));
        assert_eq!(dispatch_target(&b, &stations).unwrap().name, "朝晖站");
    }

    #[test]
    fn a_building_whose_station_is_not_known_here_calls_the_nearest() {
        let stations = stations();
        let b = building(Some(99), Some(pos(30.2601, 120.1650)));
        assert_eq!(dispatch_target(&b, &stations).unwrap().name, "湖滨站");
        let unassigned = building(None, Some(pos(30.2799, 120.1650)));
        assert_eq!(
            dispatch_target(&unassigned, &stations).unwrap().name,
            "朝晖站"
        );
    }

    #[test]
    fn a_building_with_no_station_and_no_position_leaves_the_choice_to_the_dispatcher() {
        assert_eq!(dispatch_target(&building(None, None), &stations()), None);
        assert_eq!(
            dispatch_target(&building(Some(99), None), &stations()),
            None
        );
    }

    fn arrived_after(ms: u64) -> (Case, CaseFold) {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(20_000, A::Acknowledge);
        s.after(ms, A::Arrive { position: None });
        let fold = s.fold();
        (s.case, fold)
    }

    fn within(took_ms: u64) -> Arrival {
        Arrival {
            took_ms,
            target_ms: ARRIVAL_TARGET_MS,
        }
    }

    #[test]
    fn a_crew_arriving_in_4_minutes_is_within_target() {
        let (case, fold) = arrived_after(4 * MINUTE);
        assert_eq!(arrival_minutes(&case, &fold), Some(4.0));
        let a = arrival(&DeadlinePolicy::default(), &case, &fold).unwrap();
        assert!(a.within_target());
        let stats = arrival_stats(&[a]).unwrap();
        assert_eq!(stats.share_within_target, 1.0);
        assert_eq!(stats.target_minutes, Some(5.0));
    }

    #[test]
    fn five_minutes_exactly_is_within_target_and_one_ms_more_is_not() {
        let p = DeadlinePolicy::default();
        let (case, fold) = arrived_after(ARRIVAL_TARGET_MS);
        let on_time = arrival(&p, &case, &fold).unwrap();
        let (case, fold) = arrived_after(ARRIVAL_TARGET_MS + 1);
        let late = arrival(&p, &case, &fold).unwrap();
        assert_eq!(arrival_stats(&[on_time]).unwrap().share_within_target, 1.0);
        assert_eq!(arrival_stats(&[late]).unwrap().share_within_target, 0.0);
    }

    #[test]
    fn an_alarm_is_held_to_the_arrival_target_of_the_policy_in_force_when_it_was_raised() {
        // The subdistrict set a three-minute target an hour after the alarm: the alarm keeps 5.
        let mut strict = ResponsePolicy::wulin();
        strict.fire_arrival_target_ms = 3 * MINUTE;
        let p = DeadlinePolicy::with_responses(vec![strict.since(t0() + HOUR)]);
        let (case, fold) = arrived_after(4 * MINUTE);
        assert!(arrival(&p, &case, &fold).unwrap().within_target());
        let (mut later, fold) = arrived_after(4 * MINUTE);
        later.opened_at_ms = t0() + 2 * HOUR;
        let mut fold = fold;
        fold.arrived_at_ms = Some(later.opened_at_ms + 4 * MINUTE);
        let a = arrival(&p, &later, &fold).unwrap();
        assert_eq!(a.target_ms, 3 * MINUTE);
        assert!(!a.within_target());
    }

    #[test]
    fn an_incident_is_reached_against_its_on_scene_minutes() {
        let mut s = Story::new(CaseKind::Incident, Severity::Medium, t0());
        s.after(
            20_000,
            A::Assign {
                assignee: Some(id(7)),
                deadline_ms: None,
            },
        );
        s.after(40_000, A::Acknowledge);
        s.after(8 * MINUTE, A::Arrive { position: None });
        let a = arrival(&DeadlinePolicy::default(), &s.case, &s.fold()).unwrap();
        assert_eq!(a.target_ms, 10 * MINUTE, "1-3-10: on scene within 10");
        assert!(a.within_target());
    }

    #[test]
    fn no_arrival_time_before_the_crew_arrives_nor_for_other_kinds() {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        assert_eq!(arrival_minutes(&s.case, &s.fold()), None);
        let (mut case, fold) = arrived_after(3 * MINUTE);
        case.kind = CaseKind::Hazard;
        assert_eq!(arrival_minutes(&case, &fold), None);
        assert_eq!(arrival(&DeadlinePolicy::default(), &case, &fold), None);
    }

    #[test]
    fn an_arrival_stamped_before_the_alarm_counts_as_zero() {
        let (mut case, fold) = arrived_after(MINUTE);
        case.opened_at_ms = t0() + 2 * MINUTE;
        assert_eq!(arrival_minutes(&case, &fold), Some(0.0));
        let a = arrival(&DeadlinePolicy::default(), &case, &fold).unwrap();
        assert_eq!(a.took_ms, 0);
    }

    #[test]
    fn a_weeks_arrivals_give_median_worst_and_share_within_the_target() {
        let stats = arrival_stats(&[
            within(7 * MINUTE + MINUTE / 2),
            within(3 * MINUTE),
            within(4 * MINUTE),
            within(6 * MINUTE),
            within(2 * MINUTE + MINUTE / 2),
        ])
        .unwrap();
        assert_eq!(stats.count, 5);
        assert_eq!(stats.median_minutes, 4.0);
        assert_eq!(stats.worst_minutes, 7.5);
        assert_eq!(stats.share_within_target, 0.6);
        let even = arrival_stats(&[
            within(4 * MINUTE),
            within(2 * MINUTE),
            within(6 * MINUTE),
            within(8 * MINUTE),
        ])
        .unwrap();
        assert_eq!(even.median_minutes, 5.0);
        assert_eq!(even.share_within_target, 0.5);
    }

    #[test]
    fn no_arrivals_no_figures_and_mixed_targets_name_no_single_target() {
        assert_eq!(arrival_stats(&[]), None);
        let mixed = arrival_stats(&[
            within(MINUTE),
            Arrival {
                took_ms: MINUTE,
                target_ms: 3 * MINUTE,
            },
        ])
        .unwrap();
        assert_eq!(mixed.target_minutes, None);
        assert_eq!(mixed.share_within_target, 1.0);
    }
}
