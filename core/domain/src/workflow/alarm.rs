//! Fire alarms and micro fire stations (微型消防站): which station to call, and the figure that
//! counts, the time from the alarm to the crew on scene, against the five-minute rescue circle
//! (五分钟半径灭火救援圈).

use serde::{Deserialize, Serialize};

use crate::model::{Building, Case, CaseKind, Station};
use crate::validate::Position;
use crate::workflow::case_lifecycle::CaseFold;

/// The arrival target: on scene within five minutes of the alarm.
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

/// Minutes from the alarm's opening to the crew on scene; `None` for a case that is not an
/// alarm or whose crew has not arrived. A crew whose phone stamped the arrival before the
/// opening (a clock wrong before its correction) counts as 0.
pub fn arrival_minutes(case: &Case, fold: &CaseFold) -> Option<f64> {
    if case.kind != CaseKind::Alarm {
        return None;
    }
    let arrived = fold.arrived_at_ms?;
    Some(arrived.saturating_sub(case.opened_at_ms) as f64 / MINUTE_MS)
}

/// Arrival figures over a set of alarms, for the weekly brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalStats {
    /// How many arrivals the figures are over.
    pub count: usize,
    /// The median (the mean of the two middle values for an even count).
    pub median_minutes: f64,
    /// The slowest arrival.
    pub worst_minutes: f64,
    /// The share (0–1) of arrivals within [`ARRIVAL_TARGET_MS`], five minutes exactly counting
    /// as within.
    pub share_within_target: f64,
}

/// The figures over arrival times in minutes; `None` when there is none. Values that are not
/// finite non-negative numbers are ignored: they cannot be arrival times.
pub fn arrival_stats(minutes: &[f64]) -> Option<ArrivalStats> {
    let mut sorted: Vec<f64> = minutes
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m >= 0.0)
        .collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let target = ARRIVAL_TARGET_MS as f64 / MINUTE_MS;
    let within = sorted.iter().filter(|m| **m <= target).count();
    Some(ArrivalStats {
        count: n,
        median_minutes: median,
        worst_minutes: sorted[n - 1],
        share_within_target: within as f64 / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BuildingKind, Severity};
    use crate::workflow::case_event::CaseAction as A;
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

    #[test]
    fn a_crew_arriving_in_4_minutes_is_within_target() {
        let (case, fold) = arrived_after(4 * MINUTE);
        let minutes = arrival_minutes(&case, &fold).unwrap();
        assert_eq!(minutes, 4.0);
        let stats = arrival_stats(&[minutes]).unwrap();
        assert_eq!(stats.share_within_target, 1.0);
    }

    #[test]
    fn five_minutes_exactly_is_within_target_and_one_ms_more_is_not() {
        let (case, fold) = arrived_after(ARRIVAL_TARGET_MS);
        let on_time = arrival_minutes(&case, &fold).unwrap();
        let (case, fold) = arrived_after(ARRIVAL_TARGET_MS + 1);
        let late = arrival_minutes(&case, &fold).unwrap();
        assert_eq!(arrival_stats(&[on_time]).unwrap().share_within_target, 1.0);
        assert_eq!(arrival_stats(&[late]).unwrap().share_within_target, 0.0);
    }

    #[test]
    fn no_arrival_time_before_the_crew_arrives_nor_for_other_kinds() {
        let mut s = Story::new(CaseKind::Alarm, Severity::High, t0());
        s.after(10_000, A::Dispatch { station_id: id(1) });
        assert_eq!(arrival_minutes(&s.case, &s.fold()), None);
        let (mut case, fold) = arrived_after(3 * MINUTE);
        case.kind = CaseKind::Hazard;
        assert_eq!(arrival_minutes(&case, &fold), None);
    }

    #[test]
    fn an_arrival_stamped_before_the_alarm_counts_as_zero() {
        let (mut case, fold) = arrived_after(MINUTE);
        case.opened_at_ms = t0() + 2 * MINUTE;
        assert_eq!(arrival_minutes(&case, &fold), Some(0.0));
    }

    #[test]
    fn a_weeks_arrivals_give_median_worst_and_share_within_five_minutes() {
        let stats = arrival_stats(&[7.5, 3.0, 4.0, 6.0, 2.5]).unwrap();
        assert_eq!(stats.count, 5);
        assert_eq!(stats.median_minutes, 4.0);
        assert_eq!(stats.worst_minutes, 7.5);
        assert_eq!(stats.share_within_target, 0.6);
        let even = arrival_stats(&[4.0, 2.0, 6.0, 8.0]).unwrap();
        assert_eq!(even.median_minutes, 5.0);
        assert_eq!(even.share_within_target, 0.5);
    }

    #[test]
    fn no_arrivals_no_figures_and_nonsense_is_ignored() {
        assert_eq!(arrival_stats(&[]), None);
        assert_eq!(arrival_stats(&[f64::NAN, -1.0, f64::INFINITY]), None);
        let stats = arrival_stats(&[f64::NAN, 3.0]).unwrap();
        assert_eq!(stats.count, 1);
        assert_eq!(stats.median_minutes, 3.0);
    }
}
