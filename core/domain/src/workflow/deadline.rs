//! Deadlines and the three supervision colours (红黄绿三色督办): which step of a case is due by
//! when, and whether it is on track (green), close to its deadline (yellow) or overdue (red).
//!
//! A case has at most one running step deadline: the one for the step it waits for. The
//! figures come from the brief and are all configurable in [`DeadlinePolicy`]:
//! - fire alarms and incidents (the minute-timed kinds), all measured from the opening, by the
//!   subdistrict's response policy in force when the case was opened
//!   ([`crate::workflow::response_policy`]): 1-3-10 (received within 1 minute, responding within
//!   3, on scene within 10) unless an admin set another, such as Wulin's 1/5/30;
//! - a fire alarm is also judged against the crew's arrival target (five minutes): until the
//!   crew is on scene its colour is the more urgent of its step deadline and the target
//!   ([`supervise`]);
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
use crate::workflow::response_policy::{ResponsePolicy, in_force_at};

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

    /// The subdistrict's response policies with the moments they took effect (its area
    /// record's [`crate::model::Area::response_policies`]): alarms and incidents are timed by
    /// the one in force when they were opened. Empty: 1-3-10.
    pub responses: Vec<ResponsePolicy>,

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
    /// The brief's figures: alarms and incidents 1 / 3 / 10 minutes, hotline, hazards and
    /// disputes as in `docs/workflows.md`.
    fn default() -> DeadlinePolicy {
        DeadlinePolicy {
            yellow_share: 0.75,
            utc_offset_minutes: 8 * 60,
            responses: Vec::new(),
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
    /// The default figures with a subdistrict's response policies.
    pub fn with_responses(responses: Vec<ResponsePolicy>) -> DeadlinePolicy {
        DeadlinePolicy {
            responses,
            ..DeadlinePolicy::default()
        }
    }

    /// The response policy that times `case`: the one in force when it was opened.
    pub fn response_for(&self, case: &Case) -> ResponsePolicy {
        in_force_at(&self.responses, case.opened_at_ms)
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

    /// A dispute of this severity is "small" (小事不过夜): settled by the end of its day.
    pub fn is_small_dispute(&self, severity: Severity) -> bool {
        severity <= self.dispute_small_up_to
    }

    /// When a dispute must be settled by: the end of the local day it was opened for a small
    /// one (小事不过夜), 30 days after for a big one (大事不满月). `None` for another kind.
    pub fn dispute_due_ms(&self, case: &Case) -> Option<u64> {
        if case.kind != CaseKind::Dispute {
            return None;
        }
        let opened = case.opened_at_ms;
        Some(if self.is_small_dispute(case.severity) {
            end_of_local_day_ms(opened, self.utc_offset_minutes)
        } else {
            opened.saturating_add(self.dispute_big_ms)
        })
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

    // Minute-timed kinds: every step from the opening, by the policy of the opening's moment.
    let minutes = |first: &'static str| -> Option<Deadline> {
        let r = policy.response_for(case);
        Some(match &fold.state {
            S::Raised => from(first, opened, r.receive_ms),
            S::Dispatched => from("acknowledge", opened, r.receive_ms),
            S::Acknowledged => from("en_route", opened, r.respond_ms),
            S::EnRoute => from("arrive", opened, r.on_scene_ms),
            S::OnScene => from("resolve", opened, r.report_back_ms?),
            _ => return None,
        })
    };

    let deadline = match (case.kind, &fold.state) {
        (_, state) if state.is_closed() => return None,
        (CaseKind::Alarm, _) => return minutes("dispatch"),
        (CaseKind::Incident, _) => return minutes("assign"),

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

        (CaseKind::Dispute, S::Logged | S::Mediating { .. } | S::NotSettled { .. }) => Deadline {
            step: "settle",
            started_ms: opened,
            due_ms: policy.dispute_due_ms(case)?,
        },
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

/// The fire crew's arrival target of an alarm not yet reached: on scene within the response
/// policy's `fire_arrival_target_ms` of the opening (五分钟救援圈). `None` for other kinds, and
/// once the crew is on scene or the alarm is over.
pub fn arrival_target(policy: &DeadlinePolicy, case: &Case, fold: &CaseFold) -> Option<Deadline> {
    if case.kind != CaseKind::Alarm || !is_awaiting_arrival(&fold.state) {
        return None;
    }
    let target = policy.response_for(case).fire_arrival_target_ms;
    Some(Deadline {
        step: "arrive",
        started_ms: case.opened_at_ms,
        due_ms: case.opened_at_ms.saturating_add(target),
    })
}

/// A minute-timed case that nobody has reached yet.
fn is_awaiting_arrival(state: &CaseState) -> bool {
    matches!(
        state,
        CaseState::Raised | CaseState::Dispatched | CaseState::Acknowledged | CaseState::EnRoute
    )
}

/// The deadline that governs a case's colour now, and the colour, or `None` when nothing is
/// running: the step deadline ([`next_deadline`]); for an alarm not yet reached, the more
/// urgent of that and the arrival target ([`arrival_target`]): the redder, or of two of one
/// colour the sooner due. An alarm 5.5 minutes old with the crew still on its way is red even
/// though 1-3-10 gives the crew ten minutes to arrive.
pub fn supervise(
    policy: &DeadlinePolicy,
    case: &Case,
    fold: &CaseFold,
    now_ms: u64,
) -> Option<(Deadline, Colour)> {
    let step = next_deadline(policy, case, fold).map(|d| (d, colour(policy, &d, now_ms)));
    let target = arrival_target(policy, case, fold).map(|d| (d, colour(policy, &d, now_ms)));
    match (step, target) {
        (Some(a), Some(b)) => Some(
            if (b.1, std::cmp::Reverse(b.0.due_ms)) > (a.1, std::cmp::Reverse(a.0.due_ms)) {
                b
            } else {
                a
            },
        ),
        (a, b) => a.or(b),
    }
}

/// A case whose minute-level response is still under way: an alarm until the fire is out
/// (raised to on scene), an incident until someone is on scene. These come first in every
/// "most urgent" list, alarms before incidents.
pub fn is_live(case: &Case, fold: &CaseFold) -> bool {
    live_class(case, fold).is_some()
}

fn live_class(case: &Case, fold: &CaseFold) -> Option<u8> {
    match case.kind {
        CaseKind::Alarm if is_awaiting_arrival(&fold.state) || fold.state == CaseState::OnScene => {
            Some(0)
        }
        CaseKind::Incident if is_awaiting_arrival(&fold.state) => Some(1),
        _ => None,
    }
}

/// A sort key for "my open cases, most urgent first": live fire alarms first (raised to on
/// scene: a fire 10 s overdue comes before a hazard overdue for weeks), then incidents nobody
/// has reached yet, then everything else; within each, red before yellow before green, each by
/// due time (the most overdue red first, then the soonest due); then open cases with no running
/// deadline, oldest first; closed cases last. The case id breaks ties so every device shows the
/// same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrgencyKey {
    /// 0: a live alarm, 1: an incident not yet reached, 2: anything else.
    class: u8,
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
        class: live_class(case, fold).unwrap_or(2),
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
    use crate::workflow::response_policy::ResponsePolicy;
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
        let p = DeadlinePolicy::with_responses(vec![ResponsePolicy::wulin()]);
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

    #[test]
    fn an_alarm_with_no_crew_on_scene_at_5_and_a_half_minutes_is_red() {
        // 1-3-10 gives the crew ten minutes to arrive, but the rescue circle is five: the
        // alarm is held to the nearer of the two.
        let p = DeadlinePolicy::default();
        let mut s = alarm_story();
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(2 * MINUTE, A::EnRoute { position: None });
        let at = t0() + 5 * MINUTE + 30_000;
        let step = next_deadline(&p, &s.case, &s.fold()).unwrap();
        assert_eq!(
            colour(&p, &step, at),
            Colour::Green,
            "the step alone: green"
        );
        let (d, c) = supervise(&p, &s.case, &s.fold(), at).unwrap();
        assert_eq!(
            (d.step, d.due_ms, c),
            ("arrive", t0() + 5 * MINUTE, Colour::Red)
        );
    }

    #[test]
    fn an_alarm_turns_yellow_in_the_last_quarter_of_its_arrival_target() {
        let p = DeadlinePolicy::default();
        let mut s = alarm_story();
        s.after(10_000, A::Dispatch { station_id: id(1) });
        s.after(30_000, A::Acknowledge);
        s.after(MINUTE, A::EnRoute { position: None });
        let fold = s.fold();
        // 3 min 45 s is 75% of five minutes.
        let (_, c) = supervise(&p, &s.case, &fold, t0() + 225_000 - 1).unwrap();
        assert_eq!(c, Colour::Green);
        let (d, c) = supervise(&p, &s.case, &fold, t0() + 225_000).unwrap();
        assert_eq!((d.due_ms, c), (t0() + 5 * MINUTE, Colour::Yellow));
        // Once the crew is on scene the target no longer runs.
        s.after(4 * MINUTE, A::Arrive { position: None });
        assert_eq!(arrival_target(&p, &s.case, &s.fold()), None);
        assert_eq!(supervise(&p, &s.case, &s.fold(), t0() + HOUR), None);
    }

    #[test]
    fn a_step_deadline_redder_than_the_target_still_governs() {
        // Nobody acknowledged within the minute: red on the step while the five minutes run.
        let p = DeadlinePolicy::default();
        let mut s = alarm_story();
        s.after(10_000, A::Dispatch { station_id: id(1) });
        let (d, c) = supervise(&p, &s.case, &s.fold(), t0() + MINUTE + 1).unwrap();
        assert_eq!((d.step, c), ("acknowledge", Colour::Red));
    }

    #[test]
    fn an_incident_is_received_in_1_minute_responded_to_in_3_and_reached_in_10() {
        let p = DeadlinePolicy::default();
        let mut s = Story::new(CaseKind::Incident, Severity::Medium, t0());
        let d = deadline_of(&p, &s).unwrap();
        assert_eq!((d.step, d.due_ms), ("assign", t0() + MINUTE));
        s.after(
            30_000,
            A::Assign {
                assignee: Some(id(5)),
                deadline_ms: None,
            },
        );
        assert_eq!(deadline_of(&p, &s).unwrap().step, "acknowledge");
        s.after(50_000, A::Acknowledge);
        assert_eq!(
            deadline_of(&p, &s).map(|d| (d.step, d.due_ms)),
            Some(("en_route", t0() + 3 * MINUTE))
        );
        s.after(2 * MINUTE, A::EnRoute { position: None });
        assert_eq!(
            deadline_of(&p, &s).map(|d| (d.step, d.due_ms)),
            Some(("arrive", t0() + 10 * MINUTE))
        );
        assert_eq!(
            arrival_target(&p, &s.case, &s.fold()),
            None,
            "the fire target is for fire crews"
        );
    }

    #[test]
    fn a_policy_change_applies_to_new_cases_only() {
        // Wulin's 1/5/30 took effect at noon: the 09:00 alarm keeps 1-3-10, the 13:00 one
        // has five minutes to be on scene.
        let noon = t0() + 3 * HOUR;
        let p = DeadlinePolicy::with_responses(vec![ResponsePolicy::wulin().since(noon)]);
        let mut before = alarm_story();
        let mut after = Story::new(CaseKind::Alarm, Severity::High, noon + HOUR);
        for s in [&mut before, &mut after] {
            s.after(10_000, A::Dispatch { station_id: id(1) });
            s.after(20_000, A::Acknowledge);
            s.after(40_000, A::EnRoute { position: None });
        }
        assert_eq!(deadline_of(&p, &before).unwrap().due_ms, t0() + 10 * MINUTE);
        assert_eq!(
            deadline_of(&p, &after).unwrap().due_ms,
            noon + HOUR + 5 * MINUTE
        );
        assert_eq!(p.response_for(&after.case).name, "wulin-1-5-30");
    }

    #[test]
    fn a_live_alarm_sorts_before_every_non_alarm_case() {
        let p = DeadlinePolicy::default();
        let now = t0() + 30 * DAY;
        // A critical hazard overdue for four weeks.
        let mut hazard = Story::new(CaseKind::Hazard, Severity::Critical, t0());
        hazard.case.id = id(1);
        // An incident raised a minute ago, not yet assigned: red by a few seconds.
        let mut incident = Story::new(CaseKind::Incident, Severity::Medium, now - MINUTE - 5_000);
        incident.case.id = id(2);
        // A fire 10 s overdue: still waiting for its crew's acknowledgement.
        let mut fire = Story::new(CaseKind::Alarm, Severity::High, now - MINUTE - 10_000);
        fire.case.id = id(3);
        fire.after(5_000, A::Dispatch { station_id: id(9) });
        // A fire whose crew is on scene, still burning: live, no running deadline.
        let mut burning = Story::new(CaseKind::Alarm, Severity::High, now - 20 * MINUTE);
        burning.case.id = id(4);
        burning.after(10_000, A::Dispatch { station_id: id(9) });
        burning.after(30_000, A::Acknowledge);
        burning.after(4 * MINUTE, A::Arrive { position: None });
        // A fire that is out, awaiting review: not live.
        let mut out = burning.clone();
        out.case.id = id(5);
        out.after(15 * MINUTE, A::Resolve);
        let mut rows: Vec<(Case, CaseFold)> = [hazard, incident, fire, burning, out]
            .into_iter()
            .map(|s| {
                let f = s.fold();
                (s.case, f)
            })
            .collect();
        rows.reverse();
        sort_by_urgency(&mut rows, &p, now, |(c, f)| (c, f));
        let order: Vec<Id> = rows.iter().map(|(c, _)| c.id).collect();
        assert_eq!(order, vec![id(3), id(4), id(2), id(1), id(5)]);
        assert!(is_live(&rows[0].0, &rows[0].1));
        assert!(!is_live(&rows[4].0, &rows[4].1));
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
        let p = DeadlinePolicy::with_responses(vec![ResponsePolicy::wulin().since(t0())]);
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
