//! Deadlines and the three supervision colours (红黄绿三色督办): which step of a case is due by
//! when, and whether it is on track (green), close to its deadline (yellow) or overdue (red).
//!
//! A case has at most one running deadline: the one for the step it waits for. The figures
//! come from the brief and are all configurable in [`DeadlinePolicy`]:
//! - alarms, all measured from the alarm's opening: received by the crew within 1 minute,
//!   responding (en route) within 3, on scene within 10 ([`DeadlinePolicy::default`]); Wulin's
//!   "1 minute response, 5 minutes arrival, 30 minutes report back" is [`DeadlinePolicy::wulin`];
//! - disputes: "small matters settled overnight, big ones within the month"
//!   (小事不过夜、大事不满月);
//! - hotline steps, hazard rectification and rechecks by severity.
//!
//! The colour boundary: at exactly the due millisecond a step is still yellow; one millisecond
//! later it is red. Yellow starts at the first millisecond at which the elapsed share of the
//! allowed time reaches [`DeadlinePolicy::yellow_share`].

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::{Case, CaseKind, Severity};
use crate::workflow::case_lifecycle::{CaseFold, CaseState};

const MINUTE_MS: u64 = 60 * 1000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// A duration per severity, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityDurations {
    pub low_ms: u64,
    pub medium_ms: u64,
    pub high_ms: u64,
    pub critical_ms: u64,
}

impl SeverityDurations {
    /// Whole days per severity.
    pub const fn days(low: u64, medium: u64, high: u64, critical: u64) -> SeverityDurations {
        SeverityDurations {
            low_ms: low * DAY_MS,
            medium_ms: medium * DAY_MS,
            high_ms: high * DAY_MS,
            critical_ms: critical * DAY_MS,
        }
    }

    /// The duration for `severity`.
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Low => self.low_ms,
            Severity::Medium => self.medium_ms,
            Severity::High => self.high_ms,
            Severity::Critical => self.critical_ms,
        }
    }
}

/// How long each step may take. Every figure can be changed by the subdistrict; the defaults
/// follow the brief (see the module doc and `docs/workflows.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlinePolicy {
    /// Yellow once this share of the allowed time has elapsed (0.75: the last quarter).
    pub yellow_share: f64,
    /// The local time zone as minutes east of UTC (+480 for China), for "end of the day".
    pub utc_offset_minutes: i32,

    /// Alarm: from opening until the crew has received it (dispatched and acknowledged, 接收).
    pub alarm_accept_ms: u64,
    /// Alarm: from opening until the crew is en route (响应).
    pub alarm_respond_ms: u64,
    /// Alarm: from opening until the crew is on scene (到达现场).
    pub alarm_on_scene_ms: u64,
    /// Alarm: from opening until the crew reports it resolved (反馈); `None`: no deadline.
    pub alarm_report_back_ms: Option<u64>,

    /// Hotline: from opening until accepted (签收).
    pub hotline_accept_ms: u64,
    /// Hotline: from acceptance until reviewed and assigned (审核交办).
    pub hotline_assign_ms: u64,
    /// Hotline: from assignment until handled (审核办理), by severity, in calendar days,
    /// unless the assignment set an explicit deadline.
    pub hotline_handle: SeverityDurations,
    /// Hotline: from handled until the completion review (办结审核).
    pub hotline_completion_review_ms: u64,
    /// Hotline: from the completion review until the call-back (回访反馈).
    pub hotline_call_back_ms: u64,
    /// Hotline: from the call-back until closed.
    pub hotline_close_ms: u64,

    /// Hazard (and patrol finding): from the report until fixed, by severity, unless the
    /// assignment set an explicit deadline.
    pub hazard_fix: SeverityDurations,
    /// Hazard (and patrol finding): from the fix until the recheck (复查).
    pub hazard_recheck_ms: u64,

    /// Disputes up to this severity are "small": settled by the end of the local day they were
    /// opened (小事不过夜). Above it they are "big".
    pub dispute_small_up_to: Severity,
    /// Big disputes: from opening until settled (大事不满月).
    pub dispute_big_ms: u64,
}

impl Default for DeadlinePolicy {
    /// The brief's figures: alarms 1 / 3 / 10 minutes, hotline, hazards and disputes as in
    /// `docs/workflows.md`.
    fn default() -> DeadlinePolicy {
        DeadlinePolicy {
            yellow_share: 0.75,
            utc_offset_minutes: 8 * 60,
            alarm_accept_ms: MINUTE_MS,
            alarm_respond_ms: 3 * MINUTE_MS,
            alarm_on_scene_ms: 10 * MINUTE_MS,
            alarm_report_back_ms: None,
            hotline_accept_ms: HOUR_MS,
            hotline_assign_ms: DAY_MS,
            // The platform counts 3/5/10 working days; the core has no holiday calendar, so it
            // counts calendar days, which is stricter and never lets a case slip a weekend.
            hotline_handle: SeverityDurations::days(10, 5, 3, 1),
            hotline_completion_review_ms: DAY_MS,
            hotline_call_back_ms: 2 * DAY_MS,
            hotline_close_ms: DAY_MS,
            hazard_fix: SeverityDurations::days(15, 7, 3, 1),
            hazard_recheck_ms: 3 * DAY_MS,
            dispute_small_up_to: Severity::Medium,
            dispute_big_ms: 30 * DAY_MS,
        }
    }
}

impl DeadlinePolicy {
    /// Wulin subdistrict's alarm figures: "1 minute response, 5 minutes arrival, 30 minutes
    /// report back" (1分钟响应、5分钟到达、30分钟反馈). Wulin names no separate receiving step, so
    /// receiving and responding share the first minute: within a minute of the alarm the crew
    /// has acknowledged it and set off. Everything else as the default.
    pub fn wulin() -> DeadlinePolicy {
        DeadlinePolicy {
            alarm_accept_ms: MINUTE_MS,
            alarm_respond_ms: MINUTE_MS,
            alarm_on_scene_ms: 5 * MINUTE_MS,
            alarm_report_back_ms: Some(30 * MINUTE_MS),
            ..DeadlinePolicy::default()
        }
    }

    /// The yellow share, made safe: a value outside [0, 1] is clamped, a NaN falls back to the
    /// default, so a bad setting cannot paint everything green.
    fn safe_yellow_share(&self) -> f64 {
        if self.yellow_share.is_nan() {
            0.75
        } else {
            self.yellow_share.clamp(0.0, 1.0)
        }
    }

    fn is_small_dispute(&self, severity: Severity) -> bool {
        severity <= self.dispute_small_up_to
    }
}

/// The running deadline of a case: the step awaited, when its clock started and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// The awaited step, by [`crate::workflow::CaseAction::name`] (e.g. `"en_route"`, `"fix"`).
    pub step: &'static str,
    pub started_ms: u64,
    /// The last millisecond at which the step is on time.
    pub due_ms: u64,
}

impl Deadline {
    /// The time allowed for the step (0 when an explicit deadline was set in the past).
    pub fn allowed_ms(&self) -> u64 {
        self.due_ms.saturating_sub(self.started_ms)
    }
}

/// The running deadline of `case`, given its fold: `None` when the case is closed or waits for
/// a step without a deadline (a settled dispute awaiting closure, a resolved alarm awaiting
/// review, a resolved patrol finding).
pub fn next_deadline(policy: &DeadlinePolicy, case: &Case, fold: &CaseFold) -> Option<Deadline> {
    use CaseState as S;
    let opened = case.opened_at_ms;
    let since = fold.state_since_ms;
    let from = |step: &'static str, started_ms: u64, allowed_ms: u64| Deadline {
        step,
        started_ms,
        due_ms: started_ms.saturating_add(allowed_ms),
    };
    // An explicit deadline set on the assignment replaces the policy's default.
    let explicit_or =
        |step: &'static str, started_ms: u64, allowed_ms: u64| match fold.explicit_deadline_ms {
            Some(due_ms) => Deadline {
                step,
                started_ms,
                due_ms,
            },
            None => from(step, started_ms, allowed_ms),
        };
    // A rectification round starts when the hazard is reported, and again after each failed
    // recheck (then the case re-entered `assigned` at the recheck).
    let rectification_start = if fold.rechecks_failed == 0 {
        opened
    } else {
        since
    };
    let fix = || {
        explicit_or(
            "fix",
            rectification_start,
            policy.hazard_fix.get(case.severity),
        )
    };
    let recheck = || from("recheck", since, policy.hazard_recheck_ms);

    let deadline = match (case.kind, &fold.state) {
        (_, state) if state.is_closed() => return None,
        (CaseKind::Alarm, S::Raised) => from("dispatch", opened, policy.alarm_accept_ms),
        (CaseKind::Alarm, S::Dispatched) => from("acknowledge", opened, policy.alarm_accept_ms),
        (CaseKind::Alarm, S::Acknowledged) => from("en_route", opened, policy.alarm_respond_ms),
        (CaseKind::Alarm, S::EnRoute) => from("arrive", opened, policy.alarm_on_scene_ms),
        (CaseKind::Alarm, S::OnScene) => from("resolve", opened, policy.alarm_report_back_ms?),
        (CaseKind::Alarm, _) => return None,

        (CaseKind::Hotline, S::Received) => from("accept", opened, policy.hotline_accept_ms),
        (CaseKind::Hotline, S::Accepted) => from("review_assign", since, policy.hotline_assign_ms),
        (CaseKind::Hotline, S::Assigned) => {
            explicit_or("handle", since, policy.hotline_handle.get(case.severity))
        }
        (CaseKind::Hotline, S::Handled) => from(
            "completion_review",
            since,
            policy.hotline_completion_review_ms,
        ),
        (CaseKind::Hotline, S::CompletionReviewed) => {
            from("call_back", since, policy.hotline_call_back_ms)
        }
        (CaseKind::Hotline, S::CalledBack) => from("close", since, policy.hotline_close_ms),
        (CaseKind::Hotline, _) => return None,

        (CaseKind::Hazard, S::Reported | S::Assigned) => fix(),
        (CaseKind::Hazard, S::Fixed) => recheck(),
        (CaseKind::Hazard, _) => return None,

        // A finding is dealt with on the hazard clock: resolved (or fixed) within the severity's
        // rectification time, then rechecked if it was assigned.
        (CaseKind::PatrolFinding, S::Open) => {
            from("resolve", opened, policy.hazard_fix.get(case.severity))
        }
        (CaseKind::PatrolFinding, S::Assigned) => fix(),
        (CaseKind::PatrolFinding, S::Fixed) => recheck(),
        (CaseKind::PatrolFinding, _) => return None,

        (CaseKind::Dispute, S::Logged | S::Mediating { .. } | S::NotSettled { .. }) => {
            if policy.is_small_dispute(case.severity) {
                Deadline {
                    step: "settle",
                    started_ms: opened,
                    due_ms: end_of_local_day_ms(opened, policy.utc_offset_minutes),
                }
            } else {
                from("settle", opened, policy.dispute_big_ms)
            }
        }
        (CaseKind::Dispute, _) => return None,
    };
    Some(deadline)
}

/// The last millisecond of the local calendar day containing `at_ms`, for a zone `offset`
/// minutes east of UTC: 23:59:59.999 local time.
pub fn end_of_local_day_ms(at_ms: u64, utc_offset_minutes: i32) -> u64 {
    let day = DAY_MS as i128;
    let offset = i128::from(utc_offset_minutes) * MINUTE_MS as i128;
    let local = i128::from(at_ms) + offset;
    let end_local = (local.div_euclid(day) + 1) * day - 1;
    (end_local - offset).clamp(0, i128::from(u64::MAX)) as u64
}

/// Supervision colour (红黄绿三色督办).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// 绿: on track.
    Green,
    /// 黄: close to the deadline.
    Yellow,
    /// 红: overdue.
    Red,
}

impl Colour {
    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }

    /// Parses [`Colour::as_str`].
    pub fn parse(s: &str) -> Option<Colour> {
        [Colour::Green, Colour::Yellow, Colour::Red]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// The character the users use: 绿, 黄, 红.
    pub fn label_zh(self) -> &'static str {
        match self {
            Colour::Green => "绿",
            Colour::Yellow => "黄",
            Colour::Red => "红",
        }
    }
}

/// The first millisecond at which `deadline` turns yellow: when the elapsed time reaches
/// `yellow_share` of the allowed time (rounded up to a whole ms), and never later than the due
/// time itself.
pub fn yellow_from_ms(policy: &DeadlinePolicy, deadline: &Deadline) -> u64 {
    let threshold = (deadline.allowed_ms() as f64 * policy.safe_yellow_share()).ceil() as u64;
    deadline
        .started_ms
        .saturating_add(threshold)
        .min(deadline.due_ms)
}

/// The colour of `deadline` at `now_ms`: red once `now_ms > due_ms` (at exactly `due_ms` it is
/// still yellow: the step is late only after its last allowed millisecond), yellow from
/// [`yellow_from_ms`], green before.
///
/// ```
/// use gridwork_domain::workflow::{Colour, Deadline, DeadlinePolicy, colour};
/// let policy = DeadlinePolicy::default();
/// let d = Deadline { step: "arrive", started_ms: 0, due_ms: 600_000 };
/// assert_eq!(colour(&policy, &d, 449_999), Colour::Green);
/// assert_eq!(colour(&policy, &d, 450_000), Colour::Yellow);
/// assert_eq!(colour(&policy, &d, 600_000), Colour::Yellow);
/// assert_eq!(colour(&policy, &d, 600_001), Colour::Red);
/// ```
pub fn colour(policy: &DeadlinePolicy, deadline: &Deadline, now_ms: u64) -> Colour {
    if now_ms > deadline.due_ms {
        Colour::Red
    } else if now_ms >= yellow_from_ms(policy, deadline) {
        Colour::Yellow
    } else {
        Colour::Green
    }
}

/// The running deadline of a case and its colour now, or `None` when nothing is running.
pub fn supervise(
    policy: &DeadlinePolicy,
    case: &Case,
    fold: &CaseFold,
    now_ms: u64,
) -> Option<(Deadline, Colour)> {
    let deadline = next_deadline(policy, case, fold)?;
    Some((deadline, colour(policy, &deadline, now_ms)))
}

/// A sort key for "my open cases, most urgent first": red before yellow before green, each by
/// due time (the most overdue red first, then the soonest due); then open cases with no running
/// deadline, oldest first; closed cases last. The case id breaks ties so every device shows the
/// same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrgencyKey {
    rank: u8,
    due_ms: u64,
    opened_at_ms: u64,
    case_id: Id,
}

impl UrgencyKey {
    /// The colour the key was made with, `None` for a case without a running deadline.
    pub fn colour(&self) -> Option<Colour> {
        match self.rank {
            0 => Some(Colour::Red),
            1 => Some(Colour::Yellow),
            2 => Some(Colour::Green),
            _ => None,
        }
    }
}

/// The [`UrgencyKey`] of a case at `now_ms`: sort ascending to get the most urgent first.
pub fn urgency_key(
    policy: &DeadlinePolicy,
    case: &Case,
    fold: &CaseFold,
    now_ms: u64,
) -> UrgencyKey {
    let (rank, due_ms) = match supervise(policy, case, fold, now_ms) {
        Some((deadline, Colour::Red)) => (0, deadline.due_ms),
        Some((deadline, Colour::Yellow)) => (1, deadline.due_ms),
        Some((deadline, Colour::Green)) => (2, deadline.due_ms),
        None if fold.is_closed() => (4, u64::MAX),
        None => (3, u64::MAX),
    };
    UrgencyKey {
        rank,
        due_ms,
        opened_at_ms: case.opened_at_ms,
        case_id: case.id,
    }
}

/// Sorts anything that holds a case and its fold, most urgent first (see [`UrgencyKey`]):
/// `sort_by_urgency(&mut rows, &policy, now_ms, |row| (&row.case, &row.fold))`.
pub fn sort_by_urgency<T>(
    items: &mut [T],
    policy: &DeadlinePolicy,
    now_ms: u64,
    case_of: impl Fn(&T) -> (&Case, &CaseFold),
) {
    items.sort_by_cached_key(|item| {
        let (case, fold) = case_of(item);
        urgency_key(policy, case, fold, now_ms)
    });
}

/// Compares two cases by urgency at `now_ms` (most urgent is `Less`).
pub fn urgency_order(
    policy: &DeadlinePolicy,
    a: (&Case, &CaseFold),
    b: (&Case, &CaseFold),
    now_ms: u64,
) -> Ordering {
    urgency_key(policy, a.0, a.1, now_ms).cmp(&urgency_key(policy, b.0, b.1, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::case_event::{CaseAction, CaseAction as A, DefenceLevel};
    use crate::workflow::test_support::*;

    fn alarm_story() -> Story {
        Story::new(CaseKind::Alarm, Severity::High, t0())
    }

    fn deadline_of(policy: &DeadlinePolicy, s: &Story) -> Option<Deadline> {
        next_deadline(policy, &s.case, &s.fold())
    }

    // -- alarms -------------------------------------------------------------------------------

    #[test]
    fn an_alarm_must_be_received_in_1_minute_responded_to_in_3_and_reached_in_10() {
        let p = DeadlinePolicy::default();
        let mut s = alarm_story();
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            ("dispatch", t0(), t0() + MINUTE)
        );
        s.after(20_000, A::Dispatch { station_id: id(1) });
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.due_ms), ("acknowledge", t0() + MINUTE));
        s.after(40_000, A::Acknowledge);
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            ("en_route", t0(), t0() + 3 * MINUTE)
        );
        s.after(2 * MINUTE, A::EnRoute { position: None });
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            ("arrive", t0(), t0() + 10 * MINUTE)
        );
        s.after(6 * MINUTE, A::Arrive { position: None });
        assert_eq!(
            deadline_of(&p, &s),
            None,
            "the default policy sets no report-back time"
        );
    }

    #[test]
    fn wulin_wants_a_response_in_1_minute_arrival_in_5_and_a_report_back_in_30() {
        let p = DeadlinePolicy::wulin();
        let mut s = alarm_story();
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(20_000, A::Acknowledge);
        assert_eq!(deadline_of(&p, &s).unwrap().due_ms, t0() + MINUTE);
        s.after(50_000, A::EnRoute { position: None });
        assert_eq!(deadline_of(&p, &s).unwrap().due_ms, t0() + 5 * MINUTE);
        s.after(4 * MINUTE, A::Arrive { position: None });
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.due_ms), ("resolve", t0() + 30 * MINUTE));
        s.after(25 * MINUTE, A::Resolve);
        assert_eq!(deadline_of(&p, &s), None, "the review has no deadline");
    }

    #[test]
    fn a_crew_still_on_the_way_after_10_minutes_is_red() {
        let p = DeadlinePolicy::default();
        let mut s = alarm_story();
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(20_000, A::Acknowledge);
        s.after(MINUTE, A::EnRoute { position: None });
        let (d, c) = supervise(&p, &s.case, &s.fold(), t0() + 10 * MINUTE + 1).unwrap();
        assert_eq!(d.step, "arrive");
        assert_eq!(c, Colour::Red);
    }

    // -- colour boundaries --------------------------------------------------------------------

    #[test]
    fn colour_boundaries_are_exact_to_the_millisecond() {
        let p = DeadlinePolicy::default();
        // The on-scene deadline: 10 minutes, yellow from 7.5 minutes.
        let d = Deadline {
            step: "arrive",
            started_ms: t0(),
            due_ms: t0() + 10 * MINUTE,
        };
        let yellow = t0() + 450_000;
        assert_eq!(yellow_from_ms(&p, &d), yellow);
        assert_eq!(colour(&p, &d, t0()), Colour::Green);
        assert_eq!(colour(&p, &d, yellow - 1), Colour::Green);
        assert_eq!(colour(&p, &d, yellow), Colour::Yellow);
        assert_eq!(colour(&p, &d, yellow + 1), Colour::Yellow);
        assert_eq!(colour(&p, &d, d.due_ms - 1), Colour::Yellow);
        assert_eq!(
            colour(&p, &d, d.due_ms),
            Colour::Yellow,
            "on the due ms it is not yet late"
        );
        assert_eq!(colour(&p, &d, d.due_ms + 1), Colour::Red);
    }

    #[test]
    fn the_yellow_threshold_rounds_up_to_a_whole_millisecond() {
        let p = DeadlinePolicy::default();
        let d = Deadline {
            step: "x",
            started_ms: 1_000,
            due_ms: 2_001,
        }; // 1001 ms × 0.75 = 750.75
        assert_eq!(yellow_from_ms(&p, &d), 1_751);
        assert_eq!(colour(&p, &d, 1_750), Colour::Green);
        assert_eq!(colour(&p, &d, 1_751), Colour::Yellow);
    }

    #[test]
    fn a_deadline_set_in_the_past_is_yellow_until_due_then_red() {
        let p = DeadlinePolicy::default();
        let d = Deadline {
            step: "fix",
            started_ms: t0(),
            due_ms: t0() - DAY,
        };
        assert_eq!(d.allowed_ms(), 0);
        assert_eq!(colour(&p, &d, t0()), Colour::Red);
        let d = Deadline {
            step: "fix",
            started_ms: t0(),
            due_ms: t0(),
        };
        assert_eq!(colour(&p, &d, t0()), Colour::Yellow);
        assert_eq!(colour(&p, &d, t0() + 1), Colour::Red);
    }

    #[test]
    fn a_bad_yellow_share_is_made_safe() {
        let d = Deadline {
            step: "x",
            started_ms: 0,
            due_ms: 1_000,
        };
        let nan = DeadlinePolicy {
            yellow_share: f64::NAN,
            ..DeadlinePolicy::default()
        };
        assert_eq!(yellow_from_ms(&nan, &d), 750);
        let big = DeadlinePolicy {
            yellow_share: 7.0,
            ..DeadlinePolicy::default()
        };
        assert_eq!(yellow_from_ms(&big, &d), 1_000);
        let negative = DeadlinePolicy {
            yellow_share: -1.0,
            ..DeadlinePolicy::default()
        };
        assert_eq!(colour(&negative, &d, 0), Colour::Yellow);
    }

    #[test]
    fn colours_have_names_and_characters() {
        for c in [Colour::Green, Colour::Yellow, Colour::Red] {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(Colour::Red.label_zh(), "红");
        assert_eq!(Colour::Yellow.label_zh(), "黄");
        assert_eq!(Colour::Green.label_zh(), "绿");
    }

    // -- disputes -----------------------------------------------------------------------------

    #[test]
    fn a_small_dispute_must_be_settled_before_midnight_local_time() {
        let p = DeadlinePolicy::default();
        let s = Story::new(
            CaseKind::Dispute,
            Severity::Medium,
            china_ms(2025, 3, 4, 9, 0, 0),
        );
        let d = deadline_of(&p, &s).unwrap();
        let midnight = china_ms(2025, 3, 5, 0, 0, 0);
        assert_eq!((d.step, d.due_ms), ("settle", midnight - 1));
        assert_eq!(colour(&p, &d, midnight - 1), Colour::Yellow);
        assert_eq!(colour(&p, &d, midnight), Colour::Red, "小事不过夜");
    }

    #[test]
    fn a_small_dispute_logged_late_in_the_evening_still_has_until_midnight() {
        let p = DeadlinePolicy::default();
        let opened = china_ms(2025, 3, 4, 23, 30, 0);
        let s = Story::new(CaseKind::Dispute, Severity::Low, opened);
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(d.due_ms, china_ms(2025, 3, 5, 0, 0, 0) - 1);
        // 30 minutes allowed: yellow after 22.5 minutes.
        assert_eq!(colour(&p, &d, opened + 22 * MINUTE + 29_999), Colour::Green);
        assert_eq!(
            colour(&p, &d, opened + 22 * MINUTE + 30_000),
            Colour::Yellow
        );
    }

    #[test]
    fn the_end_of_the_local_day_follows_the_offset() {
        let midnight_china = china_ms(2025, 3, 4, 0, 0, 0);
        assert_eq!(
            end_of_local_day_ms(midnight_china, 480),
            midnight_china + DAY - 1
        );
        assert_eq!(
            end_of_local_day_ms(midnight_china - 1, 480),
            midnight_china - 1
        );
        // 2025-03-04 00:00 UTC is 2025-03-03 19:00 in UTC-5: the day ends at 05:00 UTC.
        let utc_midnight = midnight_china + 8 * HOUR;
        assert_eq!(
            end_of_local_day_ms(utc_midnight, -300),
            utc_midnight + 5 * HOUR - 1
        );
        assert_eq!(end_of_local_day_ms(0, 0), DAY - 1);
    }

    #[test]
    fn a_big_dispute_has_a_month_and_a_settled_one_has_no_deadline() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Dispute, Severity::High, t0());
        s.after(
            HOUR,
            A::Mediate {
                level: DefenceLevel::Gridworker,
            },
        );
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.started_ms, d.due_ms), (t0(), t0() + 30 * DAY));
        s.after(
            2 * DAY,
            A::NotSettled {
                level: DefenceLevel::Gridworker,
                reason: "拒绝".into(),
            },
        );
        assert_eq!(
            deadline_of(&p, &s).unwrap().due_ms,
            t0() + 30 * DAY,
            "the month still runs"
        );
        s.after(
            3 * DAY,
            A::Escalate {
                to: DefenceLevel::VillageSecretary,
                reason: "升级".into(),
            },
        );
        s.after(
            4 * DAY,
            A::Settle {
                level: DefenceLevel::VillageSecretary,
                agreement: "和解".into(),
            },
        );
        assert_eq!(deadline_of(&p, &s), None);
    }

    // -- hotline ------------------------------------------------------------------------------

    #[test]
    fn a_hotline_case_is_accepted_within_the_hour_and_assigned_within_the_day() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Hotline, Severity::Medium, t0());
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.due_ms), ("accept", t0() + HOUR));
        s.after(30 * MINUTE, A::Accept);
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            (
                "review_assign",
                t0() + 30 * MINUTE,
                t0() + 30 * MINUTE + DAY
            )
        );
    }

    #[test]
    fn handling_time_depends_on_severity_unless_the_assignment_set_a_deadline() {
        let p = DeadlinePolicy::default();
        for (severity, days) in [
            (Severity::Low, 10),
            (Severity::Medium, 5),
            (Severity::High, 3),
            (Severity::Critical, 1),
        ] {
            let mut s = Story::new(CaseKind::Hotline, severity, t0());
            s.after(MINUTE, A::Accept);
            s.after(
                HOUR,
                A::ReviewAssign {
                    assignee: None,
                    deadline_ms: None,
                },
            );
            let d = deadline_of(&p, &s).unwrap();
            assert_eq!(
                (d.step, d.due_ms),
                ("handle", t0() + HOUR + days * DAY),
                "{severity:?}"
            );
        }
        let mut s = Story::new(CaseKind::Hotline, Severity::Low, t0());
        s.after(MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: None,
                deadline_ms: Some(t0() + 2 * DAY),
            },
        );
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.started_ms, d.due_ms), (t0() + HOUR, t0() + 2 * DAY));
    }

    #[test]
    fn a_case_sent_back_gets_a_fresh_handling_window_from_the_send_back() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Hotline, Severity::High, t0());
        s.after(MINUTE, A::Accept);
        s.after(
            HOUR,
            A::ReviewAssign {
                assignee: None,
                deadline_ms: Some(t0() + DAY),
            },
        );
        s.after(10 * HOUR, A::Handle);
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.due_ms),
            ("completion_review", t0() + 10 * HOUR + DAY)
        );
        s.after(
            12 * HOUR,
            A::SendBack {
                reason: "未处理到位".into(),
            },
        );
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.started_ms), ("handle", t0() + 12 * HOUR));
        assert_eq!(
            d.due_ms,
            t0() + 12 * HOUR + 3 * DAY,
            "the explicit deadline was used up"
        );
        s.after(13 * HOUR, A::Handle);
        s.after(14 * HOUR, A::CompletionReview);
        assert_eq!(
            deadline_of(&p, &s).unwrap().due_ms,
            t0() + 14 * HOUR + 2 * DAY
        );
        s.after(15 * HOUR, A::CallBack { satisfied: true });
        assert_eq!(deadline_of(&p, &s).unwrap().step, "close");
        s.after(16 * HOUR, A::Close);
        assert_eq!(deadline_of(&p, &s), None);
    }

    // -- hazards and patrol findings ----------------------------------------------------------

    #[test]
    fn a_hazard_is_fixed_within_its_severitys_days_from_the_report() {
        let p = DeadlinePolicy::default();
        for (severity, days) in [
            (Severity::Low, 15),
            (Severity::Medium, 7),
            (Severity::High, 3),
            (Severity::Critical, 1),
        ] {
            let mut s = Story::new(CaseKind::Hazard, severity, t0());
            assert_eq!(deadline_of(&p, &s).unwrap().due_ms, t0() + days * DAY);
            s.after(
                DAY / 2,
                A::Assign {
                    assignee: Some(id(1)),
                    deadline_ms: None,
                },
            );
            let d = deadline_of(&p, &s).unwrap();
            assert_eq!(
                (d.step, d.started_ms, d.due_ms),
                ("fix", t0(), t0() + days * DAY)
            );
        }
    }

    #[test]
    fn an_explicit_rectification_deadline_wins_and_the_recheck_follows_the_fix() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Hazard, Severity::Low, t0());
        s.after(
            HOUR,
            A::Assign {
                assignee: None,
                deadline_ms: Some(t0() + 2 * DAY),
            },
        );
        assert_eq!(deadline_of(&p, &s).unwrap().due_ms, t0() + 2 * DAY);
        s.after(DAY, A::Fix);
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            ("recheck", t0() + DAY, t0() + 4 * DAY)
        );
    }

    #[test]
    fn a_failed_recheck_starts_a_new_rectification_round() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Hazard, Severity::High, t0());
        s.after(
            HOUR,
            A::Assign {
                assignee: None,
                deadline_ms: None,
            },
        );
        s.after(DAY, A::Fix);
        s.after(2 * DAY, A::Recheck { passed: false });
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!(
            (d.step, d.started_ms, d.due_ms),
            ("fix", t0() + 2 * DAY, t0() + 5 * DAY)
        );
        s.after(3 * DAY, A::Fix);
        s.after(4 * DAY, A::Recheck { passed: true });
        assert_eq!(deadline_of(&p, &s), None);
    }

    #[test]
    fn a_patrol_finding_runs_on_the_hazard_clock() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::PatrolFinding, Severity::Medium, t0());
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.due_ms), ("resolve", t0() + 7 * DAY));
        s.after(HOUR, A::Resolve);
        assert_eq!(
            deadline_of(&p, &s),
            None,
            "closing a resolved finding has no deadline"
        );
    }

    // -- ordering -----------------------------------------------------------------------------

    #[test]
    fn my_open_cases_come_most_urgent_first() {
        let p = DeadlinePolicy::default();
        let now = t0() + 10 * DAY;
        let mut rows = Vec::new();
        let mut add = |name: &str, kind, severity, opened, steps: Vec<CaseAction>| {
            let mut s = Story::new(kind, severity, opened);
            s.case.id = id(rows.len() as u128 + 1);
            s.case.title = name.into();
            for (i, step) in steps.into_iter().enumerate() {
                s.at(opened + i as u64 + 1, step);
            }
            let fold = s.fold();
            rows.push((s.case, fold));
        };
        use CaseKind::*;
        // Hazard, critical: due t0+1d → red, 9 days overdue.
        add(
            "red, most overdue",
            Hazard,
            Severity::Critical,
            t0(),
            vec![],
        );
        // Hazard, high, opened t0+5d: due t0+8d → red, 2 days overdue.
        add(
            "red, less overdue",
            Hazard,
            Severity::High,
            t0() + 5 * DAY,
            vec![],
        );
        // Hazard, low, opened t0-3d: due t0+12d, 13 of 15 days gone → yellow.
        add("yellow", Hazard, Severity::Low, t0() - 3 * DAY, vec![]);
        // Hazard, low, opened now: due now+15d → green, due later than the other green.
        add("green, later", Hazard, Severity::Low, now, vec![]);
        // Hazard, medium, opened now: due now+7d → green.
        add("green, sooner", Hazard, Severity::Medium, now, vec![]);
        // A resolved alarm awaits review: open, no deadline.
        let alarm = vec![
            CaseAction::Dispatch { station_id: id(1) },
            CaseAction::Acknowledge,
            CaseAction::Arrive { position: None },
            CaseAction::Resolve,
        ];
        add("no deadline", Alarm, Severity::High, t0(), alarm);
        add(
            "closed",
            Hazard,
            Severity::Low,
            t0(),
            vec![A::Fix, A::Recheck { passed: true }],
        );
        rows.reverse();
        sort_by_urgency(&mut rows, &p, now, |(case, fold)| (case, fold));
        let titles: Vec<&str> = rows.iter().map(|(c, _)| c.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "red, most overdue",
                "red, less overdue",
                "yellow",
                "green, sooner",
                "green, later",
                "no deadline",
                "closed"
            ]
        );
        let key = urgency_key(&p, &rows[0].0, &rows[0].1, now);
        assert_eq!(key.colour(), Some(Colour::Red));
        assert_eq!(urgency_key(&p, &rows[5].0, &rows[5].1, now).colour(), None);
        assert_eq!(
            urgency_order(&p, (&rows[2].0, &rows[2].1), (&rows[3].0, &rows[3].1), now),
            Ordering::Less
        );
    }

    #[test]
    fn the_policy_travels_as_json() {
        let p = DeadlinePolicy::wulin();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<DeadlinePolicy>(&json).unwrap(), p);
        assert_ne!(p, DeadlinePolicy::default());
    }

    #[test]
    fn closed_cases_have_no_deadline() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Hazard, Severity::Critical, t0());
        s.after(MINUTE, A::Fix);
        s.after(HOUR, A::Recheck { passed: true });
        assert_eq!(deadline_of(&p, &s), None);
        assert_eq!(supervise(&p, &s.case, &s.fold(), t0() + 100 * DAY), None);
    }
}
