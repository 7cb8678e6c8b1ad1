//! Response policies (响应时限): how many minutes the "hands and feet" (手脚) have to receive,
//! respond to and reach an event the command centre dispatches ("小脑+手脚"), and the fire
//! crew's arrival target.
//!
//! The seeds give two: the city's **1-3-10** ("1分钟接收事件、3分钟联动响应、10分钟到达现场处置",
//! for 110 non-police events, events found by gridworkers and events other departments pass
//! on) and **Wulin**'s **1/5/30** ("1分钟响应、5分钟到达、30分钟反馈"); a subdistrict may set its
//! own minutes. The fire crew's target is the five-minute rescue circle (五分钟半径灭火救援圈).
//!
//! A policy is data: an admin sets it on the subdistrict's area record (only an admin may change
//! an area), it syncs to every phone below the subdistrict like any area, and each phone applies
//! it offline. The area keeps every policy it has had, each with the moment it took effect
//! ([`ResponsePolicy::since_ms`]); a case is timed by the policy in force when it was opened
//! ([`in_force_at`]), so a change applies to new cases and never moves an old case's deadline.
//! Before any policy is set, 1-3-10 applies.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;
use crate::workflow::alarm::ARRIVAL_TARGET_MS;

const MINUTE_MS: u64 = 60 * 1000;

/// The longest step a response policy may allow: minute-level response is about minutes, and a
/// typo of hours would paint every event green.
pub const MAX_RESPONSE_STEP_MS: u64 = 24 * 60 * MINUTE_MS;

/// The most policies an area keeps (a change a day for a year is far beyond any subdistrict's
/// habit; the oldest are dropped first, which only matters for cases older than them).
pub const MAX_POLICY_HISTORY: usize = 366;

/// Minute-level response times, all measured from the event's opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePolicy {
    /// How the subdistrict calls it: `1-3-10`, `wulin-1-5-30`, or a custom name.
    pub name: String,
    /// Received (接收): the event dispatched and its receipt acknowledged.
    pub receive_ms: u64,
    /// Responding (响应): the responders set off.
    pub respond_ms: u64,
    /// On scene (到达现场).
    pub on_scene_ms: u64,
    /// Reported back (反馈): the event dealt with; `None`: no deadline.
    pub report_back_ms: Option<u64>,
    /// Fire alarms: the crew on scene within this (五分钟救援圈). An alarm is yellow and red by
    /// the time left to it, whatever the step it waits for.
    pub fire_arrival_target_ms: u64,
    /// When it took effect, ms since the epoch (0 for the built-in default).
    pub since_ms: u64,
}

impl Default for ResponsePolicy {
    /// 1-3-10, the rule of every subdistrict until an admin sets another.
    fn default() -> ResponsePolicy {
        ResponsePolicy::one_three_ten()
    }
}

impl ResponsePolicy {
    /// The city's 1-3-10: received within 1 minute, responding within 3, on scene within 10;
    /// no report-back deadline; fire crews on scene within 5.
    pub fn one_three_ten() -> ResponsePolicy {
        ResponsePolicy {
            name: "1-3-10".into(),
            receive_ms: MINUTE_MS,
            respond_ms: 3 * MINUTE_MS,
            on_scene_ms: 10 * MINUTE_MS,
            report_back_ms: None,
            fire_arrival_target_ms: ARRIVAL_TARGET_MS,
            since_ms: 0,
        }
    }

    /// Wulin subdistrict's 1/5/30: responding within 1 minute, on scene within 5, reported back
    /// within 30. Wulin names no separate receiving step, so receiving and responding share the
    /// first minute.
    pub fn wulin() -> ResponsePolicy {
        ResponsePolicy {
            name: "wulin-1-5-30".into(),
            receive_ms: MINUTE_MS,
            respond_ms: MINUTE_MS,
            on_scene_ms: 5 * MINUTE_MS,
            report_back_ms: Some(30 * MINUTE_MS),
            fire_arrival_target_ms: 5 * MINUTE_MS,
            since_ms: 0,
        }
    }

    /// A preset by its name (`1-3-10`, `wulin-1-5-30` or `wulin`), for the command line.
    pub fn preset(name: &str) -> Option<ResponsePolicy> {
        match name {
            "1-3-10" => Some(ResponsePolicy::one_three_ten()),
            "wulin" | "wulin-1-5-30" => Some(ResponsePolicy::wulin()),
            _ => None,
        }
    }

    /// The same policy taking effect at `since_ms`.
    pub fn since(mut self, since_ms: u64) -> ResponsePolicy {
        self.since_ms = since_ms;
        self
    }

    /// Checks the policy: a name of 1 to 40 characters; every step between one second and
    /// [`MAX_RESPONSE_STEP_MS`]; the steps in order (received, then responding, then on scene,
    /// then reported back).
    pub fn check(&self) -> Result<(), ValidationError> {
        let field = |f: &str| format!("response_policy.{f}");
        if self.name.trim().is_empty() || self.name.chars().count() > 40 {
            return Err(ValidationError::new(
                field("name"),
                "must be 1 to 40 characters",
            ));
        }
        let steps = [
            ("receive_ms", Some(self.receive_ms)),
            ("respond_ms", Some(self.respond_ms)),
            ("on_scene_ms", Some(self.on_scene_ms)),
            ("report_back_ms", self.report_back_ms),
            ("fire_arrival_target_ms", Some(self.fire_arrival_target_ms)),
        ];
        for (name, value) in steps {
            if let Some(ms) = value
                && !(1_000..=MAX_RESPONSE_STEP_MS).contains(&ms)
            {
                return Err(ValidationError::new(
                    field(name),
                    "must be between 1 second and 24 hours",
                ));
            }
        }
        if self.respond_ms < self.receive_ms {
            return Err(ValidationError::new(
                field("respond_ms"),
                "responding cannot be due before receiving",
            ));
        }
        if self.on_scene_ms < self.respond_ms {
            return Err(ValidationError::new(
                field("on_scene_ms"),
                "being on scene cannot be due before responding",
            ));
        }
        if let Some(back) = self.report_back_ms
            && back < self.on_scene_ms
        {
            return Err(ValidationError::new(
                field("report_back_ms"),
                "reporting back cannot be due before being on scene",
            ));
        }
        Ok(())
    }

    /// "1-3-10 (接收 1 · 响应 3 · 到场 10 分钟 min; 火警到场 fire 5)": the policy as the brief
    /// and the command line show it.
    pub fn summary(&self) -> String {
        let minutes = |ms: u64| {
            let m = ms as f64 / MINUTE_MS as f64;
            if m.fract() == 0.0 {
                format!("{m:.0}")
            } else {
                format!("{m:.1}")
            }
        };
        let back = self
            .report_back_ms
            .map(|ms| format!(" · 反馈 {}", minutes(ms)))
            .unwrap_or_default();
        format!(
            "{} (接收 {} · 响应 {} · 到场 {}{back} 分钟 min; 火警到场 fire {})",
            self.name,
            minutes(self.receive_ms),
            minutes(self.respond_ms),
            minutes(self.on_scene_ms),
            minutes(self.fire_arrival_target_ms),
        )
    }
}

/// The policy in force at `at_ms` among `policies` (an area's history, any order): the one
/// that took effect last at or before `at_ms`; 1-3-10 when none had. Two taking effect at the
/// same millisecond: the later in the list wins (the list is written in the order they were
/// set).
///
/// ```
/// use gridwork_domain::workflow::{ResponsePolicy, in_force_at};
/// let history = vec![ResponsePolicy::wulin().since(1_000)];
/// assert_eq!(in_force_at(&history, 999).name, "1-3-10");
/// assert_eq!(in_force_at(&history, 1_000).name, "wulin-1-5-30");
/// ```
pub fn in_force_at(policies: &[ResponsePolicy], at_ms: u64) -> ResponsePolicy {
    policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.since_ms <= at_ms)
        .max_by_key(|(i, p)| (p.since_ms, *i))
        .map(|(_, p)| p.clone())
        .unwrap_or_default()
}

/// The history after an admin sets `policy` from `since_ms`: the new policy appended (the
/// history is kept so that older cases keep theirs), the oldest dropped beyond
/// [`MAX_POLICY_HISTORY`].
pub fn with_policy(
    history: &[ResponsePolicy],
    policy: ResponsePolicy,
    since_ms: u64,
) -> Result<Vec<ResponsePolicy>, ValidationError> {
    let policy = policy.since(since_ms);
    policy.check()?;
    let mut next = history.to_vec();
    next.push(policy);
    if next.len() > MAX_POLICY_HISTORY {
        next.drain(..next.len() - MAX_POLICY_HISTORY);
    }
    Ok(next)
}

/// Checks an area's policy history (each policy valid, at most [`MAX_POLICY_HISTORY`]).
pub fn check_history(history: &[ResponsePolicy]) -> Result<(), ValidationError> {
    if history.len() > MAX_POLICY_HISTORY {
        return Err(ValidationError::new(
            "area.response_policies",
            format!("keeps at most {MAX_POLICY_HISTORY} policies"),
        ));
    }
    history.iter().try_for_each(ResponsePolicy::check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_three_ten_is_the_rule_until_an_admin_sets_another() {
        let p = in_force_at(&[], 5);
        assert_eq!(p, ResponsePolicy::one_three_ten());
        assert_eq!(
            (p.receive_ms, p.respond_ms, p.on_scene_ms),
            (MINUTE_MS, 3 * MINUTE_MS, 10 * MINUTE_MS)
        );
        assert_eq!(p.fire_arrival_target_ms, 5 * MINUTE_MS);
    }

    #[test]
    fn wulin_responds_in_1_minute_arrives_in_5_and_reports_back_in_30() {
        let w = ResponsePolicy::wulin();
        assert_eq!(
            (w.respond_ms, w.on_scene_ms, w.report_back_ms),
            (MINUTE_MS, 5 * MINUTE_MS, Some(30 * MINUTE_MS))
        );
        assert_eq!(ResponsePolicy::preset("wulin"), Some(w.clone()));
        assert_eq!(
            ResponsePolicy::preset("1-3-10"),
            Some(ResponsePolicy::default())
        );
        assert_eq!(ResponsePolicy::preset("2-4-8"), None);
        w.check().unwrap();
    }

    #[test]
    fn a_policy_change_applies_from_the_moment_it_was_set() {
        let history = with_policy(&[], ResponsePolicy::wulin(), 1_000).unwrap();
        let history = with_policy(&history, ResponsePolicy::one_three_ten(), 5_000).unwrap();
        assert_eq!(in_force_at(&history, 999).name, "1-3-10");
        assert_eq!(in_force_at(&history, 1_000).name, "wulin-1-5-30");
        assert_eq!(in_force_at(&history, 4_999).name, "wulin-1-5-30");
        let back = in_force_at(&history, 5_000);
        assert_eq!((back.name.as_str(), back.since_ms), ("1-3-10", 5_000));
        let mut reversed = history.clone();
        reversed.reverse();
        assert_eq!(in_force_at(&reversed, 4_000).name, "wulin-1-5-30");
    }

    #[test]
    fn the_later_of_two_policies_set_at_the_same_moment_wins() {
        let mut custom = ResponsePolicy::one_three_ten();
        custom.name = "2-4-8".into();
        let history = vec![ResponsePolicy::wulin().since(7), custom.since(7)];
        assert_eq!(in_force_at(&history, 7).name, "2-4-8");
    }

    #[test]
    fn a_policy_with_steps_out_of_order_or_out_of_range_is_refused() {
        let mut p = ResponsePolicy::one_three_ten();
        p.respond_ms = 30_000;
        assert_eq!(p.check().unwrap_err().field, "response_policy.respond_ms");
        let mut p = ResponsePolicy::one_three_ten();
        p.on_scene_ms = 2 * MINUTE_MS;
        assert_eq!(p.check().unwrap_err().field, "response_policy.on_scene_ms");
        let mut p = ResponsePolicy::wulin();
        p.report_back_ms = Some(MINUTE_MS);
        assert_eq!(
            p.check().unwrap_err().field,
            "response_policy.report_back_ms"
        );
        let mut p = ResponsePolicy::one_three_ten();
        p.on_scene_ms = 25 * 60 * MINUTE_MS;
        assert_eq!(p.check().unwrap_err().field, "response_policy.on_scene_ms");
        let mut p = ResponsePolicy::one_three_ten();
        p.fire_arrival_target_ms = 0;
        assert_eq!(
            p.check().unwrap_err().field,
            "response_policy.fire_arrival_target_ms"
        );
        let mut p = ResponsePolicy::one_three_ten();
        p.name = " ".into();
        assert_eq!(p.check().unwrap_err().field, "response_policy.name");
        assert!(with_policy(&[], p, 1).is_err());
    }

    #[test]
    fn the_history_keeps_its_newest_policies() {
        let mut history = Vec::new();
        for i in 0..(MAX_POLICY_HISTORY as u64 + 5) {
            history = with_policy(&history, ResponsePolicy::wulin(), i).unwrap();
        }
        assert_eq!(history.len(), MAX_POLICY_HISTORY);
        assert_eq!(history[0].since_ms, 5);
        check_history(&history).unwrap();
    }

    #[test]
    fn the_summary_reads_in_minutes() {
        assert_eq!(
            ResponsePolicy::wulin().summary(),
            "wulin-1-5-30 (接收 1 · 响应 1 · 到场 5 · 反馈 30 分钟 min; 火警到场 fire 5)"
        );
    }
}
