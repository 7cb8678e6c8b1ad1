//! Exponential backoff with full jitter for retrying a sync after network trouble: many phones
//! coming back online at once must not all hit the server at the same instant.

use std::time::Duration;

/// How a failed sync is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay cap of the first retry.
    pub base: Duration,
    /// The largest delay cap.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1 = the first retry): uniformly random in
    /// `[0, min(max, base · 2^(attempt-1))]`, with `unit` in `[0, 1)` supplied by the caller.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max);
        cap.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay before retry number `attempt` when the server said how long to wait
    /// (`Retry-After`): never shorter than that, plus up to one jittered [`Self::delay`] so
    /// phones told the same wait do not all come back at the same instant. The server's word is
    /// capped at [`Self::MAX_SERVER_WAIT`] so a wrong header cannot park a phone for days.
    pub fn delay_after(&self, attempt: u32, unit: f64, server_asked: Option<Duration>) -> Duration {
        let jitter = self.delay(attempt, unit);
        match server_asked {
            Some(wait) => wait.min(Self::MAX_SERVER_WAIT) + jitter.min(wait / 2),
            None => jitter,
        }
    }

    /// The longest wait a `Retry-After` can impose.
    pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(600);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap_and_jitter_stays_inside() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 0.999_999).as_millis(), 499);
        assert_eq!(p.delay(2, 0.999_999).as_millis(), 999);
        assert_eq!(p.delay(4, 0.999_999).as_millis(), 3999);
        assert_eq!(p.delay(30, 1.0), Duration::from_secs(60), "capped");
        assert_eq!(p.delay(3, 0.0), Duration::ZERO);
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn a_server_asking_to_wait_is_waited_for_at_least_that_long() {
        let p = RetryPolicy::default();
        let asked = Some(Duration::from_secs(7));
        assert_eq!(p.delay_after(1, 0.0, asked), Duration::from_secs(7));
        let most = p.delay_after(5, 0.999_999, asked);
        assert!(most >= Duration::from_secs(7) && most <= Duration::from_millis(10_500));
        assert_eq!(p.delay_after(2, 0.5, None), p.delay(2, 0.5));
        assert_eq!(
            p.delay_after(1, 0.0, Some(Duration::from_secs(86_400))),
            RetryPolicy::MAX_SERVER_WAIT,
            "capped"
        );
    }
}
