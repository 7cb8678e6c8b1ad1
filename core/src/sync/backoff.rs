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
}
