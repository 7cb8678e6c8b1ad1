//! Per-device and per-address rate limits: a token bucket for each key. A request takes one
//! token; tokens come back at a steady rate up to the bucket's size, so a phone may burst (a
//! bootstrap fetches a hundred snapshot pages at once) but cannot hammer the server for long.
//! An empty bucket answers 429 `rate_limited` with `Retry-After`, which the device's sync
//! engine waits out before trying again.
//!
//! Authenticated requests are counted per device (after the token check, so a stranger cannot
//! spend a device's tokens); enrollment attempts, which have no device yet, per client address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::StatusCode;

use super::ApiError;

/// The size and refill rate of a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests that may be made at once after a quiet spell.
    pub burst: u32,
    /// Requests per minute in the long run.
    pub per_minute: f64,
}

impl RateLimit {
    /// `burst` at once, `per_minute` sustained.
    pub const fn new(burst: u32, per_minute: f64) -> RateLimit {
        RateLimit { burst, per_minute }
    }
}

/// The limits a server applies; `None` switches one off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Per device, on every authenticated request (push, pull, long poll, snapshot).
    pub device: Option<RateLimit>,
    /// Per client address, on enrollment attempts.
    pub enroll: Option<RateLimit>,
}

impl RateLimits {
    /// A device may make 600 requests at once and 1,200 a minute (20 a second) sustained: a
    /// subdistrict dispatcher's bootstrap (about 200 snapshot pages) and a phone's sync after a
    /// day offline fit without waiting. Enrollment: 30 attempts at once and 30 a minute per
    /// address, enough for a training room of phones behind one NAT address.
    pub const DEFAULT: RateLimits = RateLimits {
        device: Some(RateLimit::new(600, 1200.0)),
        enroll: Some(RateLimit::new(30, 30.0)),
    };

    /// No limits (benchmarks, fuzzing).
    pub const UNLIMITED: RateLimits = RateLimits {
        device: None,
        enroll: None,
    };
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::DEFAULT
    }
}

/// One key's bucket: the tokens left when last looked at, and when that was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    /// A full bucket.
    pub fn full(limit: RateLimit, now_ms: u64) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst),
            at_ms: now_ms,
        }
    }

    /// Refills for the time passed since last seen (a clock going backwards refills nothing).
    fn refill(&mut self, limit: RateLimit, now_ms: u64) {
        let elapsed_ms = now_ms.saturating_sub(self.at_ms) as f64;
        self.tokens =
            (self.tokens + elapsed_ms * limit.per_minute / 60_000.0).min(f64::from(limit.burst));
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes a token, or says how many ms until one is back.
    pub fn take(&mut self, limit: RateLimit, now_ms: u64) -> Result<(), u64> {
        self.refill(limit, now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if limit.per_minute <= 0.0 {
            return Err(u64::MAX);
        }
        let missing = 1.0 - self.tokens;
        Err((missing * 60_000.0 / limit.per_minute).ceil() as u64)
    }

    /// Whether the bucket is full again (it can be forgotten: a new one would be the same).
    fn is_full(&self, limit: RateLimit, now_ms: u64) -> bool {
        let mut b = *self;
        b.refill(limit, now_ms);
        b.tokens >= f64::from(limit.burst)
    }
}

/// Buckets are forgotten once full again when more keys than this are held, so addresses
/// that came once do not pile up.
const PRUNE_ABOVE: usize = 50_000;

/// The buckets of one kind of key.
#[derive(Debug)]
pub struct Buckets<K> {
    /// The `limit` label of the refusals counted in the metrics.
    name: &'static str,
    limit: Option<RateLimit>,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    /// Buckets of `limit` (`None`: every request passes).
    pub fn new(limit: Option<RateLimit>) -> Buckets<K> {
        Buckets::named("unnamed", limit)
    }

    /// Buckets of `limit` whose refusals the metrics count as `name`'s.
    pub fn named(name: &'static str, limit: Option<RateLimit>) -> Buckets<K> {
        Buckets {
            name,
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `key`'s bucket, or answers 429 with the wait.
    pub fn take(&self, key: &K, now_ms: u64, what: &str) -> Result<(), ApiError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| !b.is_full(limit, now_ms));
        }
        let bucket = map
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(limit, now_ms));
        bucket.take(limit, now_ms).map_err(|wait_ms| {
            crate::metrics::rate_limited(self.name);
            too_many(what, limit, wait_ms)
        })
    }
}

/// The key of a client address: the address itself for IPv4, its /64 network for IPv6 (one
/// subscriber usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(net.into())
        }
    }
}

/// 429 with the wait in seconds (at least 1), as `Retry-After` and in the message.
fn too_many(what: &str, limit: RateLimit, wait_ms: u64) -> ApiError {
    let secs = wait_ms.div_ceil(1000).clamp(1, 24 * 60 * 60);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many {what} (at most {} at once and {} a minute); try again in {secs} s",
            limit.burst, limit.per_minute
        ),
    )
    .with_retry_after(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit::new(3, 60.0); // one a second

    #[test]
    fn a_burst_passes_then_the_next_waits_for_one_refill() {
        let mut b = Bucket::full(LIMIT, 1_000);
        for _ in 0..3 {
            assert_eq!(b.take(LIMIT, 1_000), Ok(()));
        }
        assert_eq!(b.take(LIMIT, 1_000), Err(1_000));
        assert_eq!(b.take(LIMIT, 1_400), Err(600), "part of a token is back");
        assert_eq!(b.take(LIMIT, 2_000), Ok(()));
        assert_eq!(b.take(LIMIT, 2_000), Err(1_000));
    }

    #[test]
    fn a_quiet_spell_refills_to_the_burst_and_no_more() {
        let mut b = Bucket::full(LIMIT, 0);
        for _ in 0..3 {
            b.take(LIMIT, 0).unwrap();
        }
        let later = 3_600_000;
        for _ in 0..3 {
            assert_eq!(b.take(LIMIT, later), Ok(()));
        }
        assert!(b.take(LIMIT, later).is_err());
    }

    #[test]
    fn a_clock_going_back_refills_nothing_and_does_not_panic() {
        let mut b = Bucket::full(LIMIT, 10_000);
        for _ in 0..3 {
            b.take(LIMIT, 10_000).unwrap();
        }
        assert!(b.take(LIMIT, 0).is_err());
        assert_eq!(b.take(LIMIT, 11_000), Ok(()));
    }

    #[test]
    fn the_429_carries_retry_after_in_whole_seconds() {
        let buckets = Buckets::new(Some(LIMIT));
        for _ in 0..3 {
            buckets.take(&1u8, 0, "requests").unwrap();
        }
        let err = buckets.take(&1u8, 0, "requests").unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.code, "rate_limited");
        assert_eq!(err.retry_after_s, Some(1));
        assert!(
            buckets.take(&2u8, 0, "requests").is_ok(),
            "keys are separate"
        );
        assert!(Buckets::<u8>::new(None).take(&1, 0, "requests").is_ok());
    }

    #[test]
    fn ipv6_addresses_of_one_subscriber_share_a_bucket() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(address_key(v4), v4);
    }
}
