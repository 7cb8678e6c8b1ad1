//! The weekly brief (工作简报) for the Tuesday meeting (周二例会): the week's figures for an
//! area and its grids, ranked grid against grid (晾晒比拼), as data (serde) and as Markdown.
//!
//! The week: `week_start` to `week_end`, both included, in local dates (the policy's UTC
//! offset). The Tuesday meeting reviews the Monday–Sunday week just ended ([`review_week`]
//! gives that Monday for any day); any range of days works. Events count in the week when their
//! time falls in `[start of week_start, start of the day after week_end)`; states "at week end"
//! are evaluated at the last millisecond of `week_end`, or when the brief is made if that is
//! earlier (a week not over yet is shown as it stands, never "as at 23:59" hours ahead:
//! [`BriefInput::as_of_ms`]).
//!
//! The input is plain data the store fills from its queries, one [`GridFacts`] per grid. For an
//! exact "as at week end" picture the folds should be made with
//! [`crate::workflow::fold_until`] at [`BriefInput::as_of_ms`]; current folds work too, and then
//! the states are today's.
//!
//! Definitions (see `docs/workflows.md`):
//! - opened / closed in the week: `opened_at_ms` / `closed_at_ms` in the week;
//! - red at week end: a case whose running deadline is red at the week's last millisecond;
//! - disputes settled in the week by the level that settled them; "inside the grid" is the
//!   micro-grid leader or the gridworker (小事不出网格);
//! - disputes on time (小事不过夜、大事不满月): each dispute is counted once, in the week its
//!   outcome is known: settled by its due time (met, counted when settled), or its due time
//!   passed unsettled (missed, counted when it passed);
//! - alarm arrival: alarms opened in the week whose crew arrived, minutes from opening, against
//!   the arrival target of the response policy in force when each was raised; incidents the
//!   same against their on-scene minutes;
//! - the response policy in force at week end, the ones that took effect in the week, and the
//!   alarms and incidents opened in the week by the policy that times them;
//! - registration: per person and per room over the grids' households, residents and
//!   registrations as given (a snapshot); the rooms and people still to register;
//! - hazards found: hazard cases opened in the week; fixed: hazard cases closed in the week,
//!   i.e. whose fix passed its recheck (a fix counts once it is confirmed);
//! - key-group visits: key-group residents whose last visit falls in the week. Only the last
//!   visit is kept on a resident, so a resident visited twice counts once, and one visited in
//!   the week and again after it (before the brief is made) is missed: make the brief early.
//!
//! Ranking (晾晒比拼), best first, each criterion breaking the ties of the one before:
//! 1. fewer red cases at week end (an overdue case outweighs everything else);
//! 2. higher registration rate per person (人房匹配);
//! 3. more hazards fixed in the week;
//! 4. fewer key-group residents overdue for a visit at week end.
//!
//! Grids equal on all four share a rank (1, 1, 3) and are listed by name.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{Days, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use chrono::Datelike;

use crate::ids::Id;
use crate::model::{Case, CaseKind, Household, PatrolVisit, Registration, Resident};
use crate::validate::ValidationError;
use crate::workflow::alarm::{Arrival, ArrivalStats, arrival, arrival_stats};
use crate::workflow::case_event::DefenceLevel;
use crate::workflow::case_lifecycle::CaseFold;
use crate::workflow::deadline::{Colour, DeadlinePolicy, supervise};
use crate::workflow::key_group::{KeyGroupPolicy, overdue_visits};
use crate::workflow::registration::{
    RegistrationRate, overdue_stays, registration_rate, unregistered_people, unregistered_rooms,
};
use crate::workflow::response_policy::{ResponsePolicy, in_force_at};
use gridwork_i18n::Lang;

const MINUTE_MS: u64 = 60 * 1000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// A case and its fold, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldedCase {
    pub case: Case,
    pub fold: CaseFold,
}

/// What the store knows about one grid, for the brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridFacts {
    pub grid_id: Id,
    pub grid_name: String,
    /// The grid's cases; those opened after the week are ignored, older ones still open count
    /// for the week-end colours.
    pub cases: Vec<FoldedCase>,
    pub households: Vec<Household>,
    pub registrations: Vec<Registration>,
    pub residents: Vec<Resident>,
    /// Patrol check-ins at the grid's buildings; those outside the week are ignored.
    pub patrol_visits: Vec<PatrolVisit>,
    /// Check-ins of patrols made before visits were chained (no link anywhere: neither proven
    /// nor broken, ADR 0030): counted apart, never in the ranking.
    #[serde(default)]
    pub legacy_patrol_visits: Vec<PatrolVisit>,
}

/// The input of the brief: the area, the week and the facts per grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BriefInput {
    /// The area the brief is for (a subdistrict or community), e.g. "武林街道".
    pub area_name: String,
    /// The week's first day (included), local date.
    pub week_start: NaiveDate,
    /// The week's last day (included), local date.
    pub week_end: NaiveDate,
    pub grids: Vec<GridFacts>,
    /// When the brief is made (ms since the epoch), if known: a brief made before the week is
    /// over shows the figures as they stand then.
    #[serde(default)]
    pub made_at_ms: Option<u64>,
}

/// The Monday of the week the Tuesday meeting reviews on `today`: the Monday–Sunday week
/// before the one `today` is in (on Tuesday 12-08 it is 11-30, for 11-30 to 12-06).
///
/// ```
/// use chrono::NaiveDate;
/// use gridwork_domain::workflow::weekly_brief::review_week;
/// let tuesday = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
/// assert_eq!(review_week(tuesday), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
/// ```
pub fn review_week(today: NaiveDate) -> NaiveDate {
    let since_monday = u64::from(today.weekday().num_days_from_monday());
    today
        .checked_sub_days(Days::new(since_monday + 7))
        .unwrap_or(NaiveDate::MIN)
}

impl BriefInput {
    /// The week as `[from_ms, until_ms)` in ms since the epoch for a zone `utc_offset_minutes`
    /// east of UTC.
    pub fn window_ms(&self, utc_offset_minutes: i32) -> (u64, u64) {
        let from = local_midnight_ms(self.week_start, utc_offset_minutes);
        let after = self
            .week_end
            .checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX);
        (from, local_midnight_ms(after, utc_offset_minutes).max(from))
    }

    /// When the "at week end" figures are taken: the week's last millisecond, or the moment
    /// the brief is made if the week is not over by then.
    pub fn as_of_ms(&self, utc_offset_minutes: i32) -> u64 {
        let (from, until) = self.window_ms(utc_offset_minutes);
        let end = until.saturating_sub(1);
        self.made_at_ms.map_or(end, |made| made.min(end)).max(from)
    }

    /// Whether the brief is made before the week is over.
    pub fn week_not_over(&self, utc_offset_minutes: i32) -> bool {
        let (_, until) = self.window_ms(utc_offset_minutes);
        self.made_at_ms
            .is_some_and(|made| made < until.saturating_sub(1))
    }
}

fn local_midnight_ms(day: NaiveDate, utc_offset_minutes: i32) -> u64 {
    let local = day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis();
    let utc = i128::from(local) - i128::from(utc_offset_minutes) * i128::from(MINUTE_MS);
    utc.clamp(0, i128::from(u64::MAX)) as u64
}

/// Opened, closed and still open, for one kind of case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: CaseKind,
    pub opened: usize,
    pub closed: usize,
    /// Opened by week end and not closed at week end.
    pub open_at_week_end: usize,
}

/// An overdue case at week end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedCase {
    pub case_id: Id,
    pub grid_name: String,
    pub kind: CaseKind,
    pub title: String,
    /// The overdue step (see [`crate::workflow::Deadline::step`]).
    pub step: String,
    pub due_ms: u64,
    pub overdue_by_ms: u64,
}

/// The supervision colours of the open cases at week end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ColourCounts {
    pub red: usize,
    pub yellow: usize,
    pub green: usize,
}

/// Disputes settled in the week, by the line of defence that settled them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisputeFigures {
    pub opened: usize,
    pub settled: usize,
    /// Every level, first line first, with its count (zeros included).
    pub settled_by_level: Vec<(DefenceLevel, usize)>,
    /// Settled by the micro-grid leader or the gridworker (小事不出网格).
    pub settled_inside_grid: usize,
    /// `settled_inside_grid / settled`; `None` when nothing was settled.
    pub share_inside_grid: Option<f64>,
    /// Settled by one of the three lines, i.e. not by the subdistrict (大事不出村社).
    pub share_inside_village: Option<f64>,
    /// Small disputes settled by the end of their day (小事不过夜).
    pub overnight: OnTime,
    /// Big disputes settled within the month (大事不满月).
    pub within_month: OnTime,
}

/// Disputes whose outcome against their due time became known in the week: settled in time,
/// or their time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnTime {
    pub counted: usize,
    pub met: usize,
    /// `met / counted`; `None` when nothing was counted.
    pub share: Option<f64>,
}

impl OnTime {
    fn of(counted: usize, met: usize) -> OnTime {
        OnTime {
            counted,
            met,
            share: (counted > 0).then(|| met as f64 / counted as f64),
        }
    }
}

/// The response policy (响应时限) the week's minute-timed events were held to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyFigures {
    /// In force at week end.
    pub in_force: ResponsePolicy,
    /// Policies that took effect during the week, in the order they did: each applies to the
    /// events opened from then on, earlier ones keep theirs.
    pub changed_in_week: Vec<ResponsePolicy>,
    /// Alarms and incidents opened in the week, by the policy that times them (name, count),
    /// in the order the policies took effect.
    pub cases_by_policy: Vec<(String, usize)>,
}

/// Fire alarms (or incidents) of the week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmFigures {
    pub opened: usize,
    /// Opened in the week with no arrival recorded (yet).
    pub without_arrival: usize,
    /// Over those opened in the week that have an arrival, each against the target of the
    /// policy in force when it was opened.
    pub arrival: Option<ArrivalStats>,
}

/// Tenant registration at week end (as given by the store: a snapshot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationFigures {
    /// Per person and per room.
    pub rate: RegistrationRate,
    /// Occupied rental rooms where someone is still to register (nobody registered, or a
    /// person living there without a stay in it).
    pub unregistered_rooms: usize,
    /// People living in rental rooms without a stay in the room they live in.
    pub unregistered_people: usize,
    /// Active stays whose expected end is before the week's last day.
    pub overdue_stays: usize,
}

/// Hazards found and fixed in the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardFigures {
    pub found: usize,
    /// Closed in the week: the fix passed its recheck.
    pub fixed: usize,
    pub open_at_week_end: usize,
}

/// Key-group (一老一小) visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupFigures {
    /// Residents in a key group (not archived).
    pub residents: usize,
    /// Of those, the ones whose last visit falls in the week.
    pub visited_in_week: usize,
    /// Of those, the ones overdue for a visit at week end.
    pub overdue_at_week_end: usize,
}

/// One grid's line in the ranking (晾晒比拼).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRow {
    /// 1 is best; grids equal on every criterion share a rank.
    pub rank: usize,
    pub grid_id: Id,
    pub grid_name: String,
    pub cases_opened: usize,
    pub red_cases: usize,
    pub registration: RegistrationRate,
    pub hazards_found: usize,
    pub hazards_fixed: usize,
    pub key_group_visits: usize,
    pub key_group_overdue: usize,
    pub patrol_visits: usize,
}

/// The weekly brief. Everything in it is sorted, so the same input gives the same brief.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyBrief {
    pub area_name: String,
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    /// The week as `[from_ms, until_ms)`.
    pub from_ms: u64,
    pub until_ms: u64,
    /// When the week-end figures were taken (the week's last millisecond).
    pub as_of_ms: u64,
    /// The zone the dates are in, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// One line per kind, in [`CaseKind::ALL`] order.
    pub cases: Vec<KindCount>,
    pub colours: ColourCounts,
    /// Most overdue first.
    pub red_cases: Vec<RedCase>,
    pub disputes: DisputeFigures,
    pub alarms: AlarmFigures,
    /// Incidents (事件) the command centre dispatched, reached against their on-scene minutes.
    pub incidents: AlarmFigures,
    pub policy: PolicyFigures,
    /// The brief was made before the week is over: the week-end figures are as at `as_of_ms`.
    pub week_not_over: bool,
    pub registration: RegistrationFigures,
    pub hazards: HazardFigures,
    pub key_groups: KeyGroupFigures,
    pub patrol_visits: usize,
    /// Check-ins in the week of patrols made before visits were chained (ADR 0030): shown
    /// apart from [`WeeklyBrief::patrol_visits`], which counts only chains that verify.
    #[serde(default)]
    pub legacy_patrol_visits: usize,
    /// Best first.
    pub grids: Vec<GridRow>,
}

impl WeeklyBrief {
    /// Builds the brief; refuses a week that ends before it starts.
    pub fn build(
        input: &BriefInput,
        deadlines: &DeadlinePolicy,
        key_groups: &KeyGroupPolicy,
    ) -> Result<WeeklyBrief, ValidationError> {
        weekly_brief(input, deadlines, key_groups)
    }
}

/// Builds the brief for `input` with the given policies (see the module doc for what each
/// figure means); refuses a week that ends before it starts.
pub fn weekly_brief(
    input: &BriefInput,
    deadlines: &DeadlinePolicy,
    key_groups: &KeyGroupPolicy,
) -> Result<WeeklyBrief, ValidationError> {
    if input.week_end < input.week_start {
        return Err(ValidationError::new(
            "brief.week_end",
            "the week ends before it starts",
        ));
    }
    let offset = deadlines.utc_offset_minutes;
    let (from_ms, until_ms) = input.window_ms(offset);
    let as_of = input.as_of_ms(offset);
    let in_week = |ms: u64| ms >= from_ms && ms < until_ms;
    let by_week_end = |ms: u64| ms <= as_of;

    let mut cases: Vec<KindCount> = CaseKind::ALL
        .iter()
        .map(|&kind| KindCount {
            kind,
            opened: 0,
            closed: 0,
            open_at_week_end: 0,
        })
        .collect();
    let mut colours = ColourCounts::default();
    let mut red_cases = Vec::new();
    let mut settled_by_level: Vec<(DefenceLevel, usize)> =
        DefenceLevel::ALL.iter().map(|&l| (l, 0)).collect();
    let mut disputes_opened = 0;
    // (counted, met) for small and big disputes whose outcome came in the week.
    let mut overnight = (0, 0);
    let mut within_month = (0, 0);
    let mut alarms = Responses::default();
    let mut incidents = Responses::default();
    // Minute-timed cases opened in the week, by (since, name) of the policy timing them.
    let mut by_policy: Vec<((u64, String), usize)> = Vec::new();
    let mut all_households = Vec::new();
    let mut all_residents = Vec::new();
    let mut all_registrations = Vec::new();
    let mut key_group_totals = KeyGroupFigures {
        residents: 0,
        visited_in_week: 0,
        overdue_at_week_end: 0,
    };
    let mut patrol_visits_total = 0;
    let mut legacy_visits_total = 0;
    let mut rows = Vec::with_capacity(input.grids.len());

    for grid in &input.grids {
        let mut row = GridRow {
            rank: 0,
            grid_id: grid.grid_id,
            grid_name: grid.grid_name.clone(),
            cases_opened: 0,
            red_cases: 0,
            registration: RegistrationRate::empty(),
            hazards_found: 0,
            hazards_fixed: 0,
            key_group_visits: 0,
            key_group_overdue: 0,
            patrol_visits: 0,
        };
        for FoldedCase { case, fold } in &grid.cases {
            if !by_week_end(case.opened_at_ms) {
                continue;
            }
            let line = &mut cases[kind_index(case.kind)];
            let opened = in_week(case.opened_at_ms);
            let closed_in_week = fold.closed_at_ms.is_some_and(in_week);
            let closed_by_week_end = fold.closed_at_ms.is_some_and(by_week_end);
            if opened {
                line.opened += 1;
                row.cases_opened += 1;
            }
            if closed_in_week {
                line.closed += 1;
            }
            if !closed_by_week_end {
                line.open_at_week_end += 1;
            }
            match case.kind {
                CaseKind::Hazard => {
                    row.hazards_found += usize::from(opened);
                    row.hazards_fixed += usize::from(closed_in_week);
                }
                CaseKind::Dispute => {
                    disputes_opened += usize::from(opened);
                    if let (Some(level), Some(at)) = (fold.settlement_level, fold.settled_at_ms)
                        && in_week(at)
                    {
                        settled_by_level[level_index(level)].1 += 1;
                    }
                    if let Some(due) = deadlines.dispute_due_ms(case) {
                        let settled = fold.settled_at_ms.filter(|t| *t <= as_of);
                        // Known in the week: settled in time (then), or late (once due passed).
                        let outcome = match settled {
                            Some(at) if at <= due => Some((true, at)),
                            _ if due < as_of => Some((false, due.saturating_add(1))),
                            _ => None,
                        };
                        if let Some((met, at)) = outcome
                            && in_week(at)
                        {
                            let tally = if deadlines.is_small_dispute(case.severity) {
                                &mut overnight
                            } else {
                                &mut within_month
                            };
                            tally.0 += 1;
                            tally.1 += usize::from(met);
                        }
                    }
                }
                // An arrival stamped after the week (current folds) still belongs to this
                // week's alarm: the figure is about the alarm.
                CaseKind::Alarm if opened => alarms.add(arrival(deadlines, case, fold)),
                CaseKind::Incident if opened => incidents.add(arrival(deadlines, case, fold)),
                _ => {}
            }
            if opened && case.kind.is_minute_timed() {
                let r = deadlines.response_for(case);
                let key = (r.since_ms, r.name);
                match by_policy.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => by_policy.push((key, 1)),
                }
            }
            if closed_by_week_end {
                continue;
            }
            match supervise(deadlines, case, fold, as_of) {
                Some((deadline, Colour::Red)) => {
                    colours.red += 1;
                    row.red_cases += 1;
                    red_cases.push(RedCase {
                        case_id: case.id,
                        grid_name: grid.grid_name.clone(),
                        kind: case.kind,
                        title: case.title.clone(),
                        step: deadline.step.to_string(),
                        due_ms: deadline.due_ms,
                        overdue_by_ms: as_of.saturating_sub(deadline.due_ms),
                    });
                }
                Some((_, Colour::Yellow)) => colours.yellow += 1,
                Some((_, Colour::Green)) => colours.green += 1,
                None => {}
            }
        }

        row.registration =
            registration_rate(&grid.households, &grid.residents, &grid.registrations);
        all_households.extend(grid.households.iter().cloned());
        all_residents.extend(grid.residents.iter().cloned());
        all_registrations.extend(grid.registrations.iter().cloned());

        let in_key_group = |r: &&Resident| !r.archived && !r.key_groups.is_empty();
        key_group_totals.residents += grid.residents.iter().filter(in_key_group).count();
        row.key_group_visits = grid
            .residents
            .iter()
            .filter(in_key_group)
            .filter(|r| r.last_visit_ms.is_some_and(in_week))
            .count();
        row.key_group_overdue = overdue_visits(&grid.residents, key_groups, as_of).len();
        key_group_totals.visited_in_week += row.key_group_visits;
        key_group_totals.overdue_at_week_end += row.key_group_overdue;

        row.patrol_visits = grid
            .patrol_visits
            .iter()
            .filter(|v| in_week(v.at_ms))
            .count();
        patrol_visits_total += row.patrol_visits;
        legacy_visits_total += grid
            .legacy_patrol_visits
            .iter()
            .filter(|v| in_week(v.at_ms))
            .count();
        rows.push(row);
    }

    red_cases.sort_by(|a, b| {
        b.overdue_by_ms
            .cmp(&a.overdue_by_ms)
            .then_with(|| a.case_id.cmp(&b.case_id))
    });
    rank_grids(&mut rows);

    let settled: usize = settled_by_level.iter().map(|(_, n)| n).sum();
    let settled_inside_grid: usize = settled_by_level
        .iter()
        .filter(|(l, _)| l.is_inside_grid())
        .map(|(_, n)| n)
        .sum();
    let settled_inside_village: usize = settled_by_level
        .iter()
        .filter(|(l, _)| l.is_inside_village())
        .map(|(_, n)| n)
        .sum();
    let share = |part: usize| (settled > 0).then(|| part as f64 / settled as f64);

    let rate = registration_rate(&all_households, &all_residents, &all_registrations);
    let hazards = &cases[kind_index(CaseKind::Hazard)];
    by_policy.sort();
    let changed_in_week: Vec<ResponsePolicy> = {
        let mut changed: Vec<(usize, &ResponsePolicy)> = deadlines
            .responses
            .iter()
            .enumerate()
            .filter(|(_, p)| in_week(p.since_ms) && p.since_ms <= as_of)
            .collect();
        changed.sort_by_key(|(i, p)| (p.since_ms, *i));
        changed.into_iter().map(|(_, p)| p.clone()).collect()
    };
    Ok(WeeklyBrief {
        area_name: input.area_name.clone(),
        week_start: input.week_start,
        week_end: input.week_end,
        from_ms,
        until_ms,
        as_of_ms: as_of,
        utc_offset_minutes: offset,
        hazards: HazardFigures {
            found: hazards.opened,
            fixed: hazards.closed,
            open_at_week_end: hazards.open_at_week_end,
        },
        cases,
        colours,
        red_cases,
        disputes: DisputeFigures {
            opened: disputes_opened,
            settled,
            settled_by_level,
            settled_inside_grid,
            share_inside_grid: share(settled_inside_grid),
            share_inside_village: share(settled_inside_village),
            overnight: OnTime::of(overnight.0, overnight.1),
            within_month: OnTime::of(within_month.0, within_month.1),
        },
        alarms: alarms.figures(),
        incidents: incidents.figures(),
        policy: PolicyFigures {
            in_force: in_force_at(&deadlines.responses, as_of),
            changed_in_week,
            cases_by_policy: by_policy
                .into_iter()
                .map(|((_, name), n)| (name, n))
                .collect(),
        },
        week_not_over: input.week_not_over(offset),
        registration: RegistrationFigures {
            unregistered_rooms: unregistered_rooms(
                &all_households,
                &all_residents,
                &all_registrations,
            )
            .len(),
            unregistered_people: unregistered_people(
                &all_households,
                &all_residents,
                &all_registrations,
            )
            .len(),
            overdue_stays: overdue_stays(&all_registrations, input.week_end).len(),
            rate,
        },
        key_groups: key_group_totals,
        patrol_visits: patrol_visits_total,
        legacy_patrol_visits: legacy_visits_total,
        grids: rows,
    })
}

/// Alarms (or incidents) opened in the week and their arrivals.
#[derive(Default)]
struct Responses {
    opened: usize,
    arrivals: Vec<Arrival>,
}

impl Responses {
    fn add(&mut self, arrival: Option<Arrival>) {
        self.opened += 1;
        self.arrivals.extend(arrival);
    }

    fn figures(&self) -> AlarmFigures {
        AlarmFigures {
            opened: self.opened,
            without_arrival: self.opened - self.arrivals.len(),
            arrival: arrival_stats(&self.arrivals),
        }
    }
}

fn kind_index(kind: CaseKind) -> usize {
    CaseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

fn level_index(level: DefenceLevel) -> usize {
    DefenceLevel::ALL
        .iter()
        .position(|l| *l == level)
        .unwrap_or(0)
}

/// The ranking criteria of the module doc, without the name tie-break: `Less` is better.
fn compare_performance(a: &GridRow, b: &GridRow) -> Ordering {
    a.red_cases
        .cmp(&b.red_cases)
        .then_with(|| compare_rates(&b.registration, &a.registration))
        .then_with(|| b.hazards_fixed.cmp(&a.hazards_fixed))
        .then_with(|| a.key_group_overdue.cmp(&b.key_group_overdue))
}

/// Compares two registration rates per person exactly (cross-multiplied counts, no float
/// rounding); nobody in a rental room counts as 1/1.
fn compare_rates(a: &RegistrationRate, b: &RegistrationRate) -> Ordering {
    let parts = |r: &RegistrationRate| match r.people_in_rentals {
        0 => (1u128, 1u128),
        n => (r.registered_people as u128, n as u128),
    };
    let ((an, ad), (bn, bd)) = (parts(a), parts(b));
    (an * bd).cmp(&(bn * ad))
}

fn rank_grids(rows: &mut [GridRow]) {
    rows.sort_by(|a, b| {
        compare_performance(a, b)
            .then_with(|| a.grid_name.cmp(&b.grid_name))
            .then_with(|| a.grid_id.cmp(&b.grid_id))
    });
    for i in 0..rows.len() {
        rows[i].rank = if i > 0 && compare_performance(&rows[i - 1], &rows[i]).is_eq() {
            rows[i - 1].rank
        } else {
            i + 1
        };
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A duration as people say it: "2天3小时", "5小时20分", "45分钟".
fn duration_zh(ms: u64) -> String {
    let (days, hours, mins) = (ms / DAY_MS, ms % DAY_MS / HOUR_MS, ms % HOUR_MS / MINUTE_MS);
    if days > 0 {
        format!("{days}天{hours}小时")
    } else if hours > 0 {
        format!("{hours}小时{mins}分")
    } else {
        format!("{mins}分钟")
    }
}

/// The same in English: "2 d 3 h", "5 h 20 min", "45 min".
fn duration_en(ms: u64) -> String {
    let (days, hours, mins) = (ms / DAY_MS, ms % DAY_MS / HOUR_MS, ms % HOUR_MS / MINUTE_MS);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min")
    }
}

/// The words of the Markdown: from the one catalogue (`gridwork-i18n`), in one language, or
/// Chinese with the English beside it (`None`).
#[derive(Clone, Copy)]
struct Words(Option<Lang>);

impl Words {
    /// The label `key`: "案件", "Cases" or "案件 Cases".
    fn l(self, key: &str) -> String {
        self.lr(key, &[])
    }

    fn lr(self, key: &str, args: &[(&str, &str)]) -> String {
        match self.0 {
            Some(lang) => lang.tr(key, args),
            None => format!("{} {}", Lang::Zh.tr(key, args), Lang::En.tr(key, args)),
        }
    }

    fn kind(self, kind: CaseKind) -> String {
        self.l(&format!("brief-kind-{}", kind.as_str()))
    }

    fn level(self, level: DefenceLevel) -> String {
        match self.0 {
            Some(Lang::Zh) => level.label_zh().to_string(),
            Some(Lang::En) => level.words().to_string(),
            None => format!("{} {}", level.label_zh(), level.words()),
        }
    }

    fn minutes(self, value: f64) -> String {
        format!("{value:.1} {}", self.l("brief-minutes"))
    }

    fn duration(self, ms: u64) -> String {
        match self.0 {
            Some(Lang::En) => duration_en(ms),
            _ => duration_zh(ms),
        }
    }

    /// Brackets around an aside: full-width in Chinese.
    fn aside(self, text: &str) -> String {
        match self.0 {
            Some(Lang::En) => format!(" ({text})"),
            _ => format!("（{text}）"),
        }
    }

    /// The arrival lines of alarms or incidents.
    fn write_arrivals(self, md: &mut String, what: &str, a: &AlarmFigures) {
        let _ = writeln!(
            md,
            "{} {} · {} {}",
            self.l(what),
            a.opened,
            self.l("brief-no-arrival"),
            a.without_arrival
        );
        if let Some(stats) = &a.arrival {
            let _ = writeln!(md);
            let _ = writeln!(
                md,
                "- {}: {}",
                self.l("brief-median-arrival"),
                self.minutes(stats.median_minutes)
            );
            let _ = writeln!(
                md,
                "- {}: {}",
                self.l("brief-worst"),
                self.minutes(stats.worst_minutes)
            );
            let target = match stats.target_minutes {
                Some(t) => self.lr("brief-within-minutes", &[("minutes", &t.to_string())]),
                None => self.l("brief-within-target"),
            };
            let _ = writeln!(
                md,
                "- {target}: {} ({} {})",
                percent(stats.share_within_target),
                stats.count,
                self.l("brief-arrivals")
            );
        }
    }
}

/// Text that may come from a user, made safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

impl WeeklyBrief {
    /// A local date and time, "2025-03-08 17:00".
    fn local_time(&self, ms: u64) -> String {
        let offset = FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        match chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64) {
            Some(t) => t
                .with_timezone(&offset)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            None => "—".into(),
        }
    }

    /// The brief as Markdown for the meeting: Chinese headings with the English beside them.
    pub fn to_markdown(&self) -> String {
        self.markdown(Words(None))
    }

    /// The brief as Markdown in one language, its words from the catalogue (`gridwork-i18n`).
    pub fn to_markdown_in(&self, lang: Lang) -> String {
        self.markdown(Words(Some(lang)))
    }

    fn markdown(&self, w: Words) -> String {
        let mut md = String::new();
        // Writing to a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(md, "# {}: {}", w.l("brief-title"), cell(&self.area_name));
        let _ = writeln!(md);
        let as_at = format!(
            "{} {}{}",
            w.l("brief-as-at"),
            self.local_time(self.as_of_ms),
            if self.week_not_over {
                format!(" · {}", w.l("brief-week-not-over"))
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            md,
            "{} – {}{}",
            self.week_start,
            self.week_end,
            w.aside(&as_at)
        );

        let _ = writeln!(md, "\n## {}\n", w.l("brief-cases"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            w.l("brief-kind"),
            w.l("brief-opened"),
            w.l("brief-closed"),
            w.l("brief-open-at-week-end")
        );
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for line in &self.cases {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                w.kind(line.kind),
                line.opened,
                line.closed,
                line.open_at_week_end
            );
        }
        let total = |f: fn(&KindCount) -> usize| self.cases.iter().map(f).sum::<usize>();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            w.l("brief-total"),
            total(|l| l.opened),
            total(|l| l.closed),
            total(|l| l.open_at_week_end)
        );

        let _ = writeln!(md, "\n## {}\n", w.l("brief-supervision"));
        let _ = writeln!(
            md,
            "{} {} · {} {} · {} {}",
            w.l("brief-red"),
            self.colours.red,
            w.l("brief-yellow"),
            self.colours.yellow,
            w.l("brief-green"),
            self.colours.green
        );
        if !self.red_cases.is_empty() {
            let _ = writeln!(md);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                w.l("brief-grid"),
                w.l("brief-case"),
                w.l("brief-kind"),
                w.l("brief-step"),
                w.l("brief-due"),
                w.l("brief-overdue-by")
            );
            let _ = writeln!(md, "|---|---|---|---|---|---|");
            for red in &self.red_cases {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} |",
                    cell(&red.grid_name),
                    cell(&red.title),
                    w.kind(red.kind),
                    red.step,
                    self.local_time(red.due_ms),
                    w.duration(red.overdue_by_ms)
                );
            }
        }

        let d = &self.disputes;
        let _ = writeln!(md, "\n## {}\n", w.l("brief-disputes"));
        let _ = writeln!(
            md,
            "{} {} · {} {}",
            w.l("brief-opened"),
            d.opened,
            w.l("brief-settled"),
            d.settled
        );
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "| {} | {} |",
            w.l("brief-settled-by"),
            w.l("brief-count")
        );
        let _ = writeln!(md, "|---|---:|");
        for (level, n) in &d.settled_by_level {
            let _ = writeln!(md, "| {} | {} |", w.level(*level), n);
        }
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "{}: {} · {}: {}",
            w.l("brief-inside-grid"),
            d.share_inside_grid
                .map(percent)
                .unwrap_or_else(|| "—".into()),
            w.l("brief-inside-village"),
            d.share_inside_village
                .map(percent)
                .unwrap_or_else(|| "—".into())
        );
        let on_time = |t: &OnTime| {
            format!(
                "{} ({}/{})",
                t.share.map(percent).unwrap_or_else(|| "—".into()),
                t.met,
                t.counted
            )
        };
        let _ = writeln!(
            md,
            "{}: {} · {}: {}",
            w.l("brief-overnight"),
            on_time(&d.overnight),
            w.l("brief-within-month"),
            on_time(&d.within_month)
        );

        let p = &self.policy;
        let _ = writeln!(md, "\n## {}\n", w.l("brief-policy"));
        let since = if p.in_force.since_ms == 0 {
            w.l("brief-policy-default")
        } else {
            format!(
                "{} {}",
                w.l("brief-policy-since"),
                self.local_time(p.in_force.since_ms)
            )
        };
        let _ = writeln!(
            md,
            "{}: {}{}",
            w.l("brief-in-force"),
            p.in_force.summary(),
            w.aside(&since)
        );
        for changed in &p.changed_in_week {
            let _ = writeln!(
                md,
                "- {}, {}: {} — {}",
                w.l("brief-changed-this-week"),
                self.local_time(changed.since_ms),
                changed.summary(),
                w.l("brief-changed-note")
            );
        }
        if !p.cases_by_policy.is_empty() {
            let _ = writeln!(
                md,
                "- {}: {}",
                w.l("brief-by-policy"),
                p.cases_by_policy
                    .iter()
                    .map(|(name, n)| format!("{} {n}", cell(name)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
        }

        let _ = writeln!(md, "\n## {}\n", w.l("brief-fire-alarms"));
        w.write_arrivals(&mut md, "brief-alarms", &self.alarms);
        let _ = writeln!(md, "\n## {}\n", w.l("brief-incidents"));
        w.write_arrivals(&mut md, "brief-dispatched-incidents", &self.incidents);

        let r = &self.registration;
        let _ = writeln!(md, "\n## {}\n", w.l("brief-registration"));
        let _ = writeln!(
            md,
            "{} {} ({}/{} {}) · {} {} ({}/{} {})",
            w.l("brief-per-person"),
            percent(r.rate.person_rate),
            r.rate.registered_people,
            r.rate.people_in_rentals,
            w.l("brief-people"),
            w.l("brief-per-room"),
            percent(r.rate.room_rate),
            r.rate.registered_rooms,
            r.rate.occupied_rental_rooms,
            w.l("brief-rooms"),
        );
        let _ = writeln!(
            md,
            "{}: {} {} {} {} {} · {} {}",
            w.l("brief-to-register"),
            r.unregistered_people,
            w.l("brief-people"),
            // "in" joins the two figures; the bilingual line has one word for both.
            match w.0 {
                Some(lang) => lang.t("brief-in"),
                None => Lang::En.t("brief-in"),
            },
            r.unregistered_rooms,
            w.l("brief-rooms"),
            w.l("brief-overdue-stays"),
            r.overdue_stays
        );

        let h = &self.hazards;
        let _ = writeln!(md, "\n## {}\n", w.l("brief-hazards"));
        let _ = writeln!(
            md,
            "{} {} · {} {} · {} {}",
            w.l("brief-found"),
            h.found,
            w.l("brief-fixed"),
            h.fixed,
            w.l("brief-open"),
            h.open_at_week_end
        );

        let k = &self.key_groups;
        let _ = writeln!(md, "\n## {}\n", w.l("brief-key-groups"));
        let _ = writeln!(
            md,
            "{} {} · {} {} · {} {}",
            w.l("brief-residents"),
            k.residents,
            w.l("brief-visited"),
            k.visited_in_week,
            w.l("brief-overdue"),
            k.overdue_at_week_end
        );
        let _ = writeln!(
            md,
            "\n{}: {}",
            w.l("brief-patrol-visits"),
            self.patrol_visits
        );
        if self.legacy_patrol_visits > 0 {
            let _ = writeln!(
                md,
                "{}: {}",
                w.l("brief-legacy-visits"),
                self.legacy_patrol_visits
            );
        }

        let _ = writeln!(md, "\n## {}\n", w.l("brief-ranking"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            w.l("brief-rank"),
            w.l("brief-grid"),
            w.l("brief-red-cases"),
            w.l("brief-registered-people"),
            w.l("brief-hazards-fixed"),
            w.l("brief-visits-overdue"),
            w.l("brief-cases-opened"),
            w.l("brief-patrol")
        );
        let _ = writeln!(md, "|---:|---|---:|---:|---:|---:|---:|---:|");
        for row in &self.grids {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row.rank,
                cell(&row.grid_name),
                row.red_cases,
                percent(row.registration.person_rate),
                row.hazards_fixed,
                row.key_group_overdue,
                row.cases_opened,
                row.patrol_visits
            );
        }
        let _ = writeln!(
            md,
            "\n{}: {}.",
            w.l("brief-ranked-by"),
            w.l("brief-rank-rule")
        );
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HouseholdKind, KeyGroup, Severity};
    use crate::workflow::case_event::CaseAction as A;
    use crate::workflow::case_lifecycle::fold_until;
    use crate::workflow::response_policy::ResponsePolicy;
    use crate::workflow::test_support::*;

    /// Monday 2025-03-03 at `h:m` China time, plus `day` days.
    fn week_day(day: u64, h: u32, m: u32) -> u64 {
        china_ms(2025, 3, 3, h, m, 0) + day * DAY
    }

    fn folded(n: u128, title: &str, story: Story) -> FoldedCase {
        let mut case = story.case.clone();
        case.id = id(n);
        case.title = title.into();
        FoldedCase {
            fold: story.fold(),
            case,
        }
    }

    fn rental(n: u128) -> Household {
        Household {
            id: id(n),
            building_id: id(0xB1),
            unit: format!("1-{n}"),
            kind: HouseholdKind::Rental,
            phone: None,
            archived: false,
        }
    }

    fn registered(n: u128, household: u128) -> Registration {
        Registration {
            id: id(n),
            resident_id: id(n + 1000),
            household_id: id(household),
            check_in: date(2025, 1, 1),
            expected_end: None,
            check_out: None,
        }
    }

    fn elderly(n: u128, last_visit_ms: Option<u64>) -> Resident {
        Resident {
            id: id(n),
            household_id: id(0x40),
            name: "独居老人".into(),
            id_number: None,
            phone: None,
            key_groups: vec![KeyGroup::ElderlyLivingAlone],
            last_visit_ms,
            archived: false,
        }
    }

    fn tenant(n: u128, household: u128) -> Resident {
        Resident {
            id: id(n),
            household_id: id(household),
            name: "租客".into(),
            id_number: Some("11010519491231002X".into()),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        }
    }

    fn visit(n: u128, at_ms: u64) -> PatrolVisit {
        PatrolVisit {
            id: id(n),
            patrol_id: id(0x9A),
            building_id: id(0xB1),
            at_ms,
            position: None,
            note: None,
            chain: None,
        }
    }

    fn grid_one() -> GridFacts {
        // A blocked exit found Monday, fixed Wednesday, recheck passed Thursday.
        let mut fixed = Story::new(CaseKind::Hazard, Severity::Medium, week_day(0, 10, 0));
        fixed.at(
            week_day(0, 11, 0),
            A::Assign {
                assignee: Some(id(1)),
                deadline_ms: None,
            },
        );
        fixed.at(week_day(2, 15, 0), A::Fix);
        fixed.at(week_day(3, 9, 0), A::Recheck { passed: true });
        // An e-bike charging indoors, critical, found Tuesday 10:00, nobody assigned: due
        // Wednesday 10:00, red at week end.
        let ignored = Story::new(CaseKind::Hazard, Severity::Critical, week_day(1, 10, 0));
        // A noise dispute settled the same evening by the micro-grid leader.
        let mut noise = Story::new(CaseKind::Dispute, Severity::Low, week_day(0, 18, 0));
        noise.at(
            week_day(0, 18, 30),
            A::Mediate {
                level: DefenceLevel::MicroGridLeader,
            },
        );
        noise.at(
            week_day(0, 20, 0),
            A::Settle {
                level: DefenceLevel::MicroGridLeader,
                agreement: "十点后不装修".into(),
            },
        );
        // Smoke on Wednesday afternoon: the crew is there in 4 minutes.
        let mut smoke = Story::new(CaseKind::Alarm, Severity::High, week_day(2, 14, 0));
        smoke.at(
            week_day(2, 14, 0) + 20_000,
            A::Dispatch {
                station_id: id(0x57),
            },
        );
        smoke.at(week_day(2, 14, 0) + 40_000, A::Acknowledge);
        smoke.at(week_day(2, 14, 4), A::Arrive { position: None });
        GridFacts {
            legacy_patrol_visits: vec![],
            grid_id: id(0x61),
            grid_name: "梅花碑一网格".into(),
            cases: vec![
                folded(11, "安全出口堵塞", fixed),
                folded(12, "电动车室内充电", ignored),
                folded(13, "装修噪音", noise),
                folded(14, "3幢冒烟", smoke),
            ],
            households: vec![rental(101), rental(102)],
            registrations: vec![registered(201, 101), registered(202, 102)],
            // Two registered tenants, and a lodger in 1-102 who never registered.
            residents: vec![
                elderly(301, Some(week_day(3, 10, 0))),
                tenant(1201, 101),
                tenant(1202, 102),
                tenant(1299, 102),
            ],
            patrol_visits: vec![
                visit(401, week_day(0, 9, 0)),
                visit(402, week_day(2, 9, 0)),
                visit(403, week_day(4, 9, 0)),
                visit(404, week_day(0, 0, 0) - 1), // Sunday before: not this week
            ],
        }
    }

    fn grid_two() -> GridFacts {
        // A land dispute escalated twice and settled by the village secretary on Friday.
        let mut land = Story::new(CaseKind::Dispute, Severity::High, week_day(1, 9, 0));
        land.at(
            week_day(1, 9, 30),
            A::Mediate {
                level: DefenceLevel::MicroGridLeader,
            },
        );
        land.at(
            week_day(1, 15, 0),
            A::Escalate {
                to: DefenceLevel::Gridworker,
                reason: "不接受".into(),
            },
        );
        land.at(
            week_day(2, 10, 0),
            A::Escalate {
                to: DefenceLevel::VillageSecretary,
                reason: "涉及宅基地".into(),
            },
        );
        land.at(
            week_day(4, 16, 0),
            A::Settle {
                level: DefenceLevel::VillageSecretary,
                agreement: "重新划界".into(),
            },
        );
        // A kitchen fire on Friday: 7 minutes to arrive.
        let mut kitchen = Story::new(CaseKind::Alarm, Severity::High, week_day(4, 19, 0));
        kitchen.at(
            week_day(4, 19, 0) + 30_000,
            A::Dispatch {
                station_id: id(0x58),
            },
        );
        kitchen.at(week_day(4, 19, 1), A::Acknowledge);
        kitchen.at(week_day(4, 19, 2), A::EnRoute { position: None });
        kitchen.at(week_day(4, 19, 7), A::Arrive { position: None });
        // A hotline case from February, closed on Thursday.
        let opened = china_ms(2025, 2, 20, 10, 0, 0);
        let mut hotline = Story::new(CaseKind::Hotline, Severity::Low, opened);
        for (i, action) in [
            A::Accept,
            A::ReviewAssign {
                assignee: None,
                deadline_ms: None,
            },
            A::Handle,
            A::CompletionReview,
            A::CallBack { satisfied: true },
        ]
        .into_iter()
        .enumerate()
        {
            hotline.at(opened + i as u64 * DAY, action);
        }
        hotline.at(week_day(3, 10, 0), A::Close);
        // A loose manhole cover noticed on Sunday morning: green, plenty of time.
        let manhole = Story::new(CaseKind::PatrolFinding, Severity::Low, week_day(6, 9, 0));
        // Opened the following Monday: not in this brief.
        let next_week = Story::new(CaseKind::Hazard, Severity::Low, week_day(7, 9, 0));
        GridFacts {
            legacy_patrol_visits: vec![],
            grid_id: id(0x62),
            grid_name: "梅花碑二网格".into(),
            cases: vec![
                folded(21, "宅基地纠纷", land),
                folded(22, "厨房起火", kitchen),
                folded(23, "12345 噪音投诉", hotline),
                folded(24, "井盖松动", manhole),
                folded(25, "下周的隐患", next_week),
            ],
            households: vec![rental(111), rental(112)],
            registrations: vec![registered(211, 111)],
            // 1-111's tenant is registered; 1-112's is not (nobody there registered at all).
            residents: vec![elderly(311, None), tenant(1211, 111), tenant(1300, 112)],
            patrol_visits: vec![visit(411, week_day(6, 23, 59))],
        }
    }

    fn input() -> BriefInput {
        BriefInput {
            area_name: "武林街道".into(),
            week_start: date(2025, 3, 3),
            week_end: date(2025, 3, 9),
            grids: vec![grid_one(), grid_two()],
            made_at_ms: None,
        }
    }

    fn brief(input: &BriefInput) -> WeeklyBrief {
        weekly_brief(
            input,
            &DeadlinePolicy::default(),
            &KeyGroupPolicy::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_week_runs_from_monday_midnight_to_sunday_midnight_local_time() {
        let i = input();
        let (from, until) = i.window_ms(480);
        assert_eq!(from, china_ms(2025, 3, 3, 0, 0, 0));
        assert_eq!(until, china_ms(2025, 3, 10, 0, 0, 0));
        assert_eq!(i.as_of_ms(480), until - 1);
    }

    #[test]
    fn the_tuesday_meeting_sees_the_weeks_cases_by_kind() {
        let b = brief(&input());
        let line = |kind| b.cases.iter().find(|l| l.kind == kind).unwrap().clone();
        assert_eq!(b.cases.len(), 6);
        assert_eq!(
            b.cases[0].kind,
            CaseKind::Hazard,
            "kinds in their fixed order"
        );
        let hazards = line(CaseKind::Hazard);
        assert_eq!(
            (hazards.opened, hazards.closed, hazards.open_at_week_end),
            (2, 1, 1)
        );
        let disputes = line(CaseKind::Dispute);
        assert_eq!(
            (disputes.opened, disputes.closed, disputes.open_at_week_end),
            (2, 0, 2)
        );
        let alarms = line(CaseKind::Alarm);
        assert_eq!(
            (alarms.opened, alarms.closed, alarms.open_at_week_end),
            (2, 0, 2)
        );
        let hotline = line(CaseKind::Hotline);
        assert_eq!(
            (hotline.opened, hotline.closed, hotline.open_at_week_end),
            (0, 1, 0)
        );
        let findings = line(CaseKind::PatrolFinding);
        assert_eq!((findings.opened, findings.open_at_week_end), (1, 1));
        assert_eq!(
            b.hazards,
            HazardFigures {
                found: 2,
                fixed: 1,
                open_at_week_end: 1
            }
        );
    }

    #[test]
    fn the_ignored_critical_hazard_is_red_at_week_end() {
        let b = brief(&input());
        assert_eq!(
            b.colours,
            ColourCounts {
                red: 1,
                yellow: 0,
                green: 1
            }
        );
        assert_eq!(b.red_cases.len(), 1);
        let red = &b.red_cases[0];
        assert_eq!(red.case_id, id(12));
        assert_eq!(red.grid_name, "梅花碑一网格");
        assert_eq!(red.step, "fix");
        assert_eq!(red.due_ms, week_day(2, 10, 0));
        assert_eq!(red.overdue_by_ms, b.as_of_ms - week_day(2, 10, 0));
    }

    #[test]
    fn half_the_disputes_were_settled_inside_the_grid_and_all_inside_the_village() {
        let d = brief(&input()).disputes;
        assert_eq!((d.opened, d.settled), (2, 2));
        assert_eq!(
            d.settled_by_level,
            vec![
                (DefenceLevel::MicroGridLeader, 1),
                (DefenceLevel::Gridworker, 0),
                (DefenceLevel::VillageSecretary, 1),
                (DefenceLevel::SubdistrictMediationCentre, 0),
            ]
        );
        assert_eq!(d.settled_inside_grid, 1);
        assert_eq!(d.share_inside_grid, Some(0.5));
        assert_eq!(d.share_inside_village, Some(1.0));
    }

    #[test]
    fn alarm_arrivals_registration_and_key_groups_are_summed_over_the_grids() {
        let b = brief(&input());
        let arrival = b.alarms.arrival.clone().unwrap();
        assert_eq!((b.alarms.opened, b.alarms.without_arrival), (2, 0));
        assert_eq!(arrival.median_minutes, 5.5);
        assert_eq!(arrival.worst_minutes, 7.0);
        assert_eq!(arrival.share_within_target, 0.5);
        assert_eq!(
            b.registration.rate,
            RegistrationRate::from_counts(4, 3, 5, 3)
        );
        assert_eq!(b.registration.unregistered_rooms, 2);
        assert_eq!(b.registration.unregistered_people, 2);
        assert_eq!(b.registration.overdue_stays, 0);
        assert_eq!(
            b.key_groups,
            KeyGroupFigures {
                residents: 2,
                visited_in_week: 1,
                overdue_at_week_end: 1
            }
        );
        assert_eq!(
            b.patrol_visits, 4,
            "three in grid one this week, one in grid two"
        );
    }

    #[test]
    fn the_grid_without_a_red_case_ranks_first() {
        let b = brief(&input());
        let names: Vec<&str> = b.grids.iter().map(|g| g.grid_name.as_str()).collect();
        assert_eq!(names, ["梅花碑二网格", "梅花碑一网格"]);
        assert_eq!((b.grids[0].rank, b.grids[1].rank), (1, 2));
        let one = &b.grids[1];
        assert_eq!(
            (one.red_cases, one.hazards_found, one.hazards_fixed),
            (1, 2, 1)
        );
        assert_eq!(
            (
                one.key_group_visits,
                one.key_group_overdue,
                one.patrol_visits
            ),
            (1, 0, 3)
        );
        assert_eq!(
            (one.registration.room_rate, one.registration.person_rate),
            (1.0, 2.0 / 3.0)
        );
        let two = &b.grids[0];
        assert_eq!(
            (
                two.cases_opened,
                two.registration.person_rate,
                two.key_group_overdue
            ),
            (3, 0.5, 1)
        );
    }

    fn row(name: &str, red: usize, registered: usize, rooms: usize, fixed: usize) -> GridRow {
        GridRow {
            rank: 0,
            grid_id: id(name.len() as u128),
            grid_name: name.into(),
            cases_opened: 0,
            red_cases: red,
            registration: RegistrationRate::from_counts(rooms, registered, rooms, registered),
            hazards_fixed: fixed,
            hazards_found: 0,
            key_group_visits: 0,
            key_group_overdue: 0,
            patrol_visits: 0,
        }
    }

    #[test]
    fn grids_are_ranked_by_red_cases_then_registration_then_hazards_fixed() {
        let mut rows = vec![
            row("D", 0, 9, 10, 5), // 90%
            row("B", 0, 10, 10, 0),
            row("A", 1, 10, 10, 50), // a red case outweighs everything
            row("C", 0, 9, 10, 7),   // same 90% as D, more fixed
            row("E", 0, 18, 20, 7),  // 90% exactly too: ties with C
        ];
        rank_grids(&mut rows);
        let order: Vec<(&str, usize)> = rows
            .iter()
            .map(|r| (r.grid_name.as_str(), r.rank))
            .collect();
        assert_eq!(order, [("B", 1), ("C", 2), ("E", 2), ("D", 4), ("A", 5)]);
    }

    #[test]
    fn a_grid_with_no_rental_rooms_ranks_as_fully_registered() {
        let mut rows = vec![row("有出租", 0, 9, 10, 0), row("无出租", 0, 0, 0, 0)];
        rank_grids(&mut rows);
        assert_eq!(rows[0].grid_name, "无出租");
    }

    #[test]
    fn the_brief_does_not_depend_on_the_order_of_the_grids() {
        let forwards = brief(&input());
        let mut reversed = input();
        reversed.grids.reverse();
        for grid in &mut reversed.grids {
            grid.cases.reverse();
        }
        assert_eq!(brief(&reversed), forwards);
    }

    #[test]
    fn folds_as_at_week_end_leave_out_what_happened_after() {
        // The critical e-bike hazard was fixed on the Monday after the week: folded as at the
        // week's end, it is still red.
        let mut i = input();
        let mut s = Story::new(CaseKind::Hazard, Severity::Critical, week_day(1, 10, 0));
        s.at(week_day(7, 9, 0), A::Fix);
        let as_of = i.as_of_ms(480);
        let fold = fold_until(CaseKind::Hazard, s.case.opened_at_ms, &s.events, as_of);
        i.grids[0].cases[1].fold = fold;
        assert_eq!(brief(&i).red_cases.len(), 1);
        i.grids[0].cases[1].fold = s.fold();
        assert!(
            brief(&i).red_cases.is_empty(),
            "with today's fold the hazard is fixed"
        );
    }

    #[test]
    fn a_week_that_ends_before_it_starts_is_refused() {
        let mut i = input();
        i.week_end = date(2025, 3, 2);
        let err =
            weekly_brief(&i, &DeadlinePolicy::default(), &KeyGroupPolicy::default()).unwrap_err();
        assert_eq!(err.field, "brief.week_end");
    }

    #[test]
    fn an_empty_area_gives_an_empty_but_complete_brief() {
        let i = BriefInput {
            area_name: "新街街道".into(),
            week_start: date(2025, 3, 3),
            week_end: date(2025, 3, 9),
            grids: vec![],
            made_at_ms: None,
        };
        let b = brief(&i);
        assert!(b.grids.is_empty());
        assert_eq!(b.alarms.arrival, None);
        assert_eq!(b.disputes.share_inside_grid, None);
        assert_eq!(b.registration.rate, RegistrationRate::empty());
        assert!(b.to_markdown().contains("## 晾晒比拼 Grid ranking"));
    }

    #[test]
    fn the_brief_reads_as_markdown_with_chinese_and_english_headings() {
        let md = brief(&input()).to_markdown();
        for heading in [
            "# 工作简报 Weekly brief: 武林街道",
            "## 案件 Cases",
            "## 红黄绿督办 Supervision",
            "## 矛盾纠纷 Disputes",
            "## 消防 Fire alarms",
            "## 流动人口登记 Tenant registration",
            "## 隐患 Hazards",
            "## 一老一小 Key groups",
            "## 晾晒比拼 Grid ranking",
        ] {
            assert!(md.contains(heading), "missing {heading}\n{md}");
        }
        assert!(md.contains("2025-03-03 – 2025-03-09（截至 as at 2025-03-09 23:59）"));
        assert!(md.contains("| 隐患 Hazard | 2 | 1 | 1 |"));
        assert!(md.contains("| 合计 Total | 7 | 2 | 6 |"), "{md}");
        let red_row = concat!(
            "| 梅花碑一网格 | 电动车室内充电 | 隐患 Hazard ",
            "| fix | 2025-03-05 10:00 | 4天13小时 |"
        );
        assert!(md.contains(red_row), "{md}");
        assert!(md.contains("小事不出网格 Settled inside the grid: 50.0%"));
        assert!(md.contains("- 到场中位数 Median arrival: 5.5 分钟 min"));
        assert!(
            md.contains(
                "按人 Per person 60.0% (3/5 人 people) · 按间 Per room 75.0% (3/4 间 rooms)"
            ),
            "{md}"
        );
        assert!(md.contains("待登记 To register: 2 人 people in 2 间 rooms"));
        assert!(md.contains("小事不过夜 Small ones settled overnight: 100.0% (1/1)"));
        assert!(md.contains("- 5 分钟内到场 Within 5 minutes: 50.0% (2 起 arrivals)"));
        assert!(md.contains("现行 In force: 1-3-10"));
        assert!(md.contains("| 1 | 梅花碑二网格 | 0 | 50.0% |"));
    }

    #[test]
    fn the_brief_in_one_language_takes_its_words_from_the_catalogue() {
        let b = brief(&input());
        let zh = b.to_markdown_in(Lang::Zh);
        for line in [
            "# 工作简报: 武林街道",
            "## 红黄绿督办",
            "| 隐患 | 2 | 1 | 1 |",
            "- 到场中位数: 5.5 分钟",
            "按人 60.0% (3/5 人) · 按间 75.0% (3/4 间)",
            "| 梅花碑一网格 | 电动车室内充电 | 隐患 | fix | 2025-03-05 10:00 | 4天13小时 |",
        ] {
            assert!(zh.contains(line), "{line:?} in:\n{zh}");
        }
        assert!(
            !zh.contains("Supervision") && !zh.contains("Weekly brief"),
            "{zh}"
        );
        let en = b.to_markdown_in(Lang::En);
        for line in [
            "# Weekly brief: 武林街道",
            "2025-03-03 – 2025-03-09 (as at 2025-03-09 23:59)",
            "## Supervision",
            "| Hazard | 2 | 1 | 1 |",
            "- Median arrival: 5.5 min",
            "Per person 60.0% (3/5 people) · Per room 75.0% (3/4 rooms)",
            "| 梅花碑一网格 | 电动车室内充电 | Hazard | fix | 2025-03-05 10:00 | 4 d 13 h |",
        ] {
            assert!(en.contains(line), "{line:?} in:\n{en}");
        }
        assert!(
            !en.contains("红黄绿督办") && !en.contains("工作简报"),
            "{en}"
        );
    }

    #[test]
    fn user_text_cannot_break_the_markdown_tables() {
        let mut i = input();
        i.grids[0].grid_name = "一|网格\n第二行".into();
        let md = brief(&i).to_markdown();
        assert!(md.contains("一\\|网格 第二行"));
    }

    #[test]
    fn the_brief_travels_as_json() {
        let b = brief(&input());
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["area_name"], "武林街道");
        assert_eq!(json["week_start"], "2025-03-03");
        assert_eq!(json["red_cases"][0]["step"], "fix");
        assert_eq!(
            json["disputes"]["settled_by_level"][2][0],
            "village_secretary"
        );
        let back: WeeklyBrief = serde_json::from_value(json).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_zh(45 * MINUTE), "45分钟");
        assert_eq!(duration_zh(5 * HOUR + 20 * MINUTE), "5小时20分");
        assert_eq!(duration_zh(2 * DAY + 3 * HOUR + 59 * MINUTE), "2天3小时");
    }

    #[test]
    fn the_default_week_is_the_previous_monday_to_sunday() {
        // The Tuesday meeting of 2026-12-08 reviews Monday 11-30 to Sunday 12-06.
        assert_eq!(review_week(date(2026, 12, 8)), date(2026, 11, 30));
        // Any day of that week gives the same review week; a Monday reviews the week before.
        assert_eq!(review_week(date(2026, 12, 13)), date(2026, 11, 30));
        assert_eq!(review_week(date(2026, 12, 7)), date(2026, 11, 30));
        assert_eq!(review_week(date(2026, 12, 14)), date(2026, 12, 7));
    }

    #[test]
    fn a_week_not_over_is_shown_as_it_stands_not_as_at_23_59() {
        let mut i = input();
        // Made on Sunday at 15:00: the week ends at midnight.
        i.made_at_ms = Some(week_day(6, 15, 0));
        let b = brief(&i);
        assert_eq!(b.as_of_ms, week_day(6, 15, 0));
        assert!(b.week_not_over);
        let md = b.to_markdown();
        assert!(
            md.contains("（截至 as at 2025-03-09 15:00 · 本周未完 the week is not over）"),
            "{md}"
        );
        // Made on the Tuesday after: the whole week, as at its last minute.
        i.made_at_ms = Some(week_day(8, 9, 0));
        let b = brief(&i);
        assert_eq!(b.as_of_ms, week_day(7, 0, 0) - 1);
        assert!(!b.week_not_over);
    }

    #[test]
    fn small_disputes_settled_overnight_and_big_ones_within_the_month_are_counted() {
        let settle = |s: &mut Story, at: u64| {
            s.at(
                at,
                A::Mediate {
                    level: DefenceLevel::Gridworker,
                },
            );
            s.at(
                at + 1,
                A::Settle {
                    level: DefenceLevel::Gridworker,
                    agreement: "和解".into(),
                },
            );
        };
        // Small, settled the same evening: met.
        let mut evening = Story::new(CaseKind::Dispute, Severity::Low, week_day(0, 9, 0));
        settle(&mut evening, week_day(0, 21, 0));
        // Small, settled the next morning: missed (counted when its day ended, Monday night).
        let mut next_morning = Story::new(CaseKind::Dispute, Severity::Medium, week_day(1, 9, 0));
        settle(&mut next_morning, week_day(2, 8, 0));
        // Small, opened Sunday 22:00 and still open at week end: its day ended at midnight,
        // after the week: not counted.
        let late_sunday = Story::new(CaseKind::Dispute, Severity::Low, week_day(6, 22, 0));
        // Big, opened 40 days before the week, still open: its month ran out before the week.
        let old = Story::new(
            CaseKind::Dispute,
            Severity::High,
            week_day(0, 9, 0) - 40 * DAY,
        );
        // Big, opened 31 days before Wednesday, never settled: missed in the week.
        let expired = Story::new(
            CaseKind::Dispute,
            Severity::High,
            week_day(2, 9, 0) - 30 * DAY,
        );
        // Big, opened in the week and settled within it: met.
        let mut quick = Story::new(CaseKind::Dispute, Severity::Critical, week_day(3, 9, 0));
        settle(&mut quick, week_day(4, 9, 0));
        let i = BriefInput {
            area_name: "万市镇".into(),
            week_start: date(2025, 3, 3),
            week_end: date(2025, 3, 9),
            grids: vec![GridFacts {
                legacy_patrol_visits: vec![],
                grid_id: id(0x70),
                grid_name: "彭家村网格".into(),
                cases: vec![
                    folded(1, "a", evening),
                    folded(2, "b", next_morning),
                    folded(3, "c", late_sunday),
                    folded(4, "d", old),
                    folded(5, "e", expired),
                    folded(6, "f", quick),
                ],
                households: vec![],
                registrations: vec![],
                residents: vec![],
                patrol_visits: vec![],
            }],
            made_at_ms: None,
        };
        let d = brief(&i).disputes;
        assert_eq!(
            d.overnight,
            OnTime {
                counted: 2,
                met: 1,
                share: Some(0.5)
            }
        );
        assert_eq!(
            d.within_month,
            OnTime {
                counted: 2,
                met: 1,
                share: Some(0.5)
            }
        );
    }

    #[test]
    fn a_policy_change_is_recorded_in_the_brief_and_each_alarm_keeps_its_own_target() {
        // Wulin's 1/5/30 with a three-minute fire target from Thursday noon: Wednesday's smoke
        // (4 minutes) was within 1-3-10's five; Friday's kitchen fire (7 minutes) was not
        // within three.
        let mut strict = ResponsePolicy::wulin();
        strict.fire_arrival_target_ms = 3 * MINUTE;
        let thursday_noon = week_day(3, 12, 0);
        let deadlines = DeadlinePolicy::with_responses(vec![strict.clone().since(thursday_noon)]);
        let b = weekly_brief(&input(), &deadlines, &KeyGroupPolicy::default()).unwrap();
        assert_eq!(b.policy.in_force.name, "wulin-1-5-30");
        assert_eq!(b.policy.changed_in_week.len(), 1);
        assert_eq!(b.policy.changed_in_week[0].since_ms, thursday_noon);
        assert_eq!(
            b.policy.cases_by_policy,
            vec![("1-3-10".to_string(), 1), ("wulin-1-5-30".to_string(), 1)]
        );
        let arrival = b.alarms.arrival.clone().unwrap();
        assert_eq!(arrival.share_within_target, 0.5);
        assert_eq!(arrival.target_minutes, None, "two targets in one week");
        let md = b.to_markdown();
        assert!(md.contains("## 响应时限 Response policy"), "{md}");
        assert!(
            md.contains("- 本周调整 Changed this week, 2025-03-06 12:00: wulin-1-5-30"),
            "{md}"
        );
        assert!(md.contains("1-3-10 1 · wulin-1-5-30 1"), "{md}");
    }

    #[test]
    fn incidents_are_reached_against_their_on_scene_minutes() {
        let mut lost_child = Story::new(CaseKind::Incident, Severity::High, week_day(5, 16, 0));
        lost_child.at(
            week_day(5, 16, 0) + 30_000,
            A::Assign {
                assignee: Some(id(8)),
                deadline_ms: None,
            },
        );
        lost_child.at(week_day(5, 16, 1), A::Acknowledge);
        lost_child.at(week_day(5, 16, 8), A::Arrive { position: None });
        let mut i = input();
        i.grids[1].cases.push(folded(26, "儿童走失", lost_child));
        let b = brief(&i);
        let arrival = b.incidents.arrival.clone().unwrap();
        assert_eq!((b.incidents.opened, arrival.count), (1, 1));
        assert_eq!(arrival.target_minutes, Some(10.0));
        assert_eq!(arrival.share_within_target, 1.0);
        assert!(b.to_markdown().contains("## 事件 Incidents"));
    }

    #[test]
    fn the_brief_counts_registration_per_person_and_ranks_grids_by_it() {
        // Every rental room of both grids has an open stay, so per room both are at 100%; in
        // 申慧's grid only one lodger in three holds a stay (人房匹配), in 申悦's all do.
        let grid = |n: u128, name: &str, lodgers: &[u128], stays: &[u128]| GridFacts {
            legacy_patrol_visits: vec![],
            grid_id: id(n),
            grid_name: name.into(),
            cases: vec![],
            households: vec![rental(n + 1)],
            registrations: stays.iter().map(|r| registered(*r, n + 1)).collect(),
            residents: lodgers.iter().map(|p| tenant(*p, n + 1)).collect(),
            patrol_visits: vec![],
        };
        let i = BriefInput {
            area_name: "祥符街道".into(),
            week_start: date(2025, 3, 3),
            week_end: date(2025, 3, 9),
            grids: vec![
                grid(0x500, "申慧一网格", &[1501, 1502, 1503], &[501]),
                grid(0x600, "申悦一网格", &[1601, 1602], &[601, 602]),
            ],
            made_at_ms: None,
        };
        let b = brief(&i);
        assert_eq!(
            b.registration.rate,
            RegistrationRate::from_counts(2, 2, 5, 3)
        );
        assert_eq!(b.registration.rate.room_rate, 1.0);
        assert_eq!(b.registration.rate.person_rate, 0.6);
        assert_eq!(
            (
                b.registration.unregistered_people,
                b.registration.unregistered_rooms
            ),
            (2, 1)
        );
        let ranked: Vec<(&str, usize)> = b
            .grids
            .iter()
            .map(|g| (g.grid_name.as_str(), g.rank))
            .collect();
        assert_eq!(ranked, [("申悦一网格", 1), ("申慧一网格", 2)]);
        assert!(
            b.to_markdown().contains(
                "按人 Per person 60.0% (3/5 人 people) · 按间 Per room 100.0% (2/2 间 rooms)"
            ),
            "{}",
            b.to_markdown()
        );
    }
}
