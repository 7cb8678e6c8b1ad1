//! Hybrid logical clock: physical milliseconds plus a counter, tie-broken by device id.
//!
//! Every change is stamped with an [`Hlc`] from the device's [`HlcClock`]. The clock never goes
//! backwards (not across restarts either: the store persists the last value), it moves past every
//! remote stamp it observes, and it reads the wall clock through the offset the server reported
//! on the last sync, so a phone whose clock is a year ahead cannot win every conflict.
//!
//! The one exception to "never backwards" is [`HlcClock::rebase`]: when the server refuses this
//! device's stamps as too far ahead (its wall clock was wrong before it learned the offset), the
//! clock goes back to the highest stamp known to be legitimate, and the caller stamps the refused
//! changes again in the same transaction (ADR 0011).
//!
//! The clock is pure: the caller passes the wall time in, which keeps it testable.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;

/// Bits of the packed value that hold the counter.
const COUNTER_BITS: u32 = 16;
const COUNTER_MASK: u64 = (1 << COUNTER_BITS) - 1;

/// How far ahead of the corrected wall clock a remote stamp may be before it is refused.
pub const DEFAULT_MAX_DRIFT_MS: u64 = 5 * 60 * 1000;

/// A hybrid logical timestamp, packed as `physical_ms << 16 | counter` so that the integer order
/// is the clock order and it fits an SQLite INTEGER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hlc(u64);

impl Hlc {
    /// The zero stamp, older than every real one.
    pub const ZERO: Hlc = Hlc(0);

    /// Builds a stamp from its parts.
    pub fn new(physical_ms: u64, counter: u16) -> Hlc {
        Hlc((physical_ms << COUNTER_BITS) | u64::from(counter))
    }

    /// Milliseconds since the Unix epoch (corrected device time when the stamp was made).
    pub fn physical_ms(self) -> u64 {
        self.0 >> COUNTER_BITS
    }

    /// The logical counter within one millisecond.
    pub fn counter(self) -> u16 {
        (self.0 & COUNTER_MASK) as u16
    }

    /// The packed value, for storage.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The packed value as SQLite's signed INTEGER (stamps stay below 2^63 until year 4000+).
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// From [`Hlc::as_u64`].
    pub fn from_u64(v: u64) -> Hlc {
        Hlc(v)
    }

    /// From [`Hlc::as_i64`].
    pub fn from_i64(v: i64) -> Hlc {
        Hlc(v as u64)
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.physical_ms(), self.counter())
    }
}

/// A stamp with its author: the total order used by every merge rule. Two devices can make the
/// same [`Hlc`]; the device id breaks the tie so every replica picks the same winner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: Hlc,
    pub device: DeviceId,
}

impl Stamp {
    /// Pairs a clock value with the device that made it.
    pub fn new(hlc: Hlc, device: DeviceId) -> Stamp {
        Stamp { hlc, device }
    }
}

/// Why a remote stamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The stamp is further ahead of our (corrected) time than the allowed drift.
    #[error(
        "clock stamp {remote} is {ahead_ms} ms ahead of this clock (more than the {max_ms} ms allowed); \
         the sending device's clock is wrong"
    )]
    TooFarAhead {
        remote: Hlc,
        ahead_ms: u64,
        max_ms: u64,
    },
    /// The counter would overflow within one millisecond (more than 65,535 stamps in a ms).
    #[error("clock counter exhausted within one millisecond")]
    CounterExhausted,
}

/// The device's clock state: the last stamp handed out and the correction to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
    /// Milliseconds to add to the local wall clock to get server time (from the last sync).
    offset_ms: i64,
    max_drift_ms: u64,
    /// The highest stamp known to be on the server: observed remote stamps and this device's
    /// own stamps the server accepted. [`HlcClock::rebase`] never goes below it.
    trusted: Hlc,
    /// The latest server time taken from an answer ([`HlcClock::learn_server_time`]).
    server_seen_ms: u64,
    /// Answers in a row whose server time was behind `server_seen_ms`.
    behind: u8,
}

/// How many answers in a row must report a server time behind one already taken before the
/// clock believes that the server's clock was set back. One such answer is a stale answer (a
/// network replaying an old response, or a slow answer overtaken by a newer one): taking its
/// time would set the phone's corrected clock back, date its new cases in the past and make its
/// edits lose to older ones.
pub const SERVER_SETBACK_ANSWERS: u8 = 3;

impl HlcClock {
    /// A clock that resumes after `last` (persisted) with the given wall-clock correction.
    pub fn new(last: Hlc, offset_ms: i64) -> HlcClock {
        HlcClock {
            last,
            offset_ms,
            max_drift_ms: DEFAULT_MAX_DRIFT_MS,
            trusted: Hlc::ZERO,
            server_seen_ms: 0,
            behind: 0,
        }
    }

    /// Resumes the latest server time taken from an answer (persisted beside the offset).
    pub fn with_server_seen_ms(mut self, server_ms: u64) -> HlcClock {
        self.server_seen_ms = server_ms;
        self
    }

    /// The latest server time taken from an answer (0 before the first).
    pub fn server_seen_ms(&self) -> u64 {
        self.server_seen_ms
    }

    /// Takes the correction from an answer that reports the server's time `server_ms`,
    /// received when the local wall clock read `wall_ms`; returns whether it was taken.
    ///
    /// An answer older than one already taken is stale and leaves the correction alone,
    /// unless [`SERVER_SETBACK_ANSWERS`] answers in a row agree that the server's clock went
    /// back (then it did, and the phone follows it).
    ///
    /// ```
    /// use gridwork_domain::hlc::{Hlc, HlcClock};
    /// let mut clock = HlcClock::new(Hlc::ZERO, 0);
    /// assert!(clock.learn_server_time(10_000, 9_000));
    /// // An answer from before that one, replayed: ignored.
    /// assert!(!clock.learn_server_time(4_000, 9_500));
    /// assert_eq!(clock.offset_ms(), 1_000);
    /// ```
    pub fn learn_server_time(&mut self, server_ms: u64, wall_ms: u64) -> bool {
        if server_ms < self.server_seen_ms {
            self.behind = self.behind.saturating_add(1);
            if self.behind < SERVER_SETBACK_ANSWERS {
                return false;
            }
        }
        self.behind = 0;
        self.server_seen_ms = server_ms;
        self.offset_ms = server_ms as i64 - wall_ms as i64;
        true
    }

    /// Resumes the highest stamp known to be on the server (persisted beside `last`).
    pub fn with_trusted(mut self, trusted: Hlc) -> HlcClock {
        self.trusted = trusted;
        self
    }

    /// Changes how far ahead a remote stamp may be.
    pub fn with_max_drift_ms(mut self, max_drift_ms: u64) -> HlcClock {
        self.max_drift_ms = max_drift_ms;
        self
    }

    /// The last stamp handed out or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// How far ahead of the corrected clock a stamp may be.
    pub fn max_drift_ms(&self) -> u64 {
        self.max_drift_ms
    }

    /// The highest stamp known to be on the server.
    pub fn trusted(&self) -> Hlc {
        self.trusted
    }

    /// Notes a stamp the server holds (one of ours it accepted).
    pub fn trust(&mut self, stamp: Hlc) {
        self.trusted = self.trusted.max(stamp);
    }

    /// The highest stamp the server admits now: corrected time plus the allowed drift (counter
    /// included). A stamp above it is refused as `clock_ahead`.
    pub fn horizon(&self, wall_ms: u64) -> Hlc {
        Hlc::new(
            self.corrected_ms(wall_ms).saturating_add(self.max_drift_ms),
            u16::MAX,
        )
    }

    /// Brings back a clock that ran beyond [`HlcClock::horizon`] (stamps made before the
    /// device learned its offset): `last` becomes the highest of the corrected time, the trusted
    /// stamp and `floor` (the highest legitimate stamp the caller holds). Returns the stamp the
    /// clock was at when it moved, `None` when it was not ahead.
    ///
    /// Every stamp above the new `last` that the caller holds must be replaced by a fresh one
    /// from [`HlcClock::tick`] in the same transaction, or two changes could share a stamp.
    pub fn rebase(&mut self, wall_ms: u64, floor: Hlc) -> Option<Hlc> {
        if self.last <= self.horizon(wall_ms) {
            return None;
        }
        let was = self.last;
        self.last = Hlc::new(self.corrected_ms(wall_ms), 0)
            .max(self.trusted)
            .max(floor);
        Some(was)
    }

    /// The current correction (server time minus local wall time), in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Records the correction the server reported: `server_ms - local_wall_ms`.
    pub fn set_offset_ms(&mut self, offset_ms: i64) {
        self.offset_ms = offset_ms;
    }

    /// The wall clock corrected by the server offset.
    pub fn corrected_ms(&self, wall_ms: u64) -> u64 {
        wall_ms.saturating_add_signed(self.offset_ms)
    }

    /// A new stamp, strictly after every stamp this clock has made or observed.
    pub fn tick(&mut self, wall_ms: u64) -> Result<Hlc, ClockError> {
        let now = self.corrected_ms(wall_ms);
        let next = if now > self.last.physical_ms() {
            Hlc::new(now, 0)
        } else {
            let counter = self
                .last
                .counter()
                .checked_add(1)
                .ok_or(ClockError::CounterExhausted)?;
            Hlc::new(self.last.physical_ms(), counter)
        };
        self.last = next;
        Ok(next)
    }

    /// Moves the clock past a remote stamp, refusing one too far in the future.
    pub fn observe(&mut self, remote: Hlc, wall_ms: u64) -> Result<(), ClockError> {
        self.check_remote(remote, wall_ms)?;
        if remote > self.last {
            self.last = remote;
        }
        self.trust(remote);
        Ok(())
    }

    /// Checks a remote stamp against the allowed drift without moving the clock.
    pub fn check_remote(&self, remote: Hlc, wall_ms: u64) -> Result<(), ClockError> {
        check_not_too_far_ahead(remote, self.corrected_ms(wall_ms), self.max_drift_ms)
    }
}

/// Refuses a stamp more than `max_drift_ms` ahead of `now_ms`. The server uses this with its own
/// time; devices use it through [`HlcClock::check_remote`].
pub fn check_not_too_far_ahead(
    remote: Hlc,
    now_ms: u64,
    max_drift_ms: u64,
) -> Result<(), ClockError> {
    let ahead = remote.physical_ms().saturating_sub(now_ms);
    if ahead > max_drift_ms {
        return Err(ClockError::TooFarAhead {
            remote,
            ahead_ms: ahead,
            max_ms: max_drift_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packs_and_unpacks() {
        let h = Hlc::new(1_795_000_000_123, 7);
        assert_eq!(h.physical_ms(), 1_795_000_000_123);
        assert_eq!(h.counter(), 7);
        assert_eq!(Hlc::from_i64(h.as_i64()), h);
        assert!(Hlc::new(5, 0) > Hlc::new(4, 65535));
    }

    #[test]
    fn a_phone_whose_clock_stops_still_makes_increasing_stamps() {
        let mut c = HlcClock::new(Hlc::ZERO, 0);
        let a = c.tick(1000).unwrap();
        let b = c.tick(1000).unwrap();
        let d = c.tick(999).unwrap(); // wall clock stepped back
        assert!(a < b && b < d);
        assert_eq!(d.physical_ms(), 1000);
        assert_eq!(d.counter(), 2);
    }

    #[test]
    fn resumes_after_the_persisted_stamp_across_a_restart() {
        let persisted = Hlc::new(50_000, 3);
        let mut c = HlcClock::new(persisted, 0);
        // The phone rebooted with its clock reset to an earlier time.
        assert!(c.tick(10_000).unwrap() > persisted);
    }

    #[test]
    fn the_server_offset_corrects_a_clock_a_year_ahead() {
        let year_ms: u64 = 365 * 24 * 3600 * 1000;
        let server_now = 1_800_000_000_000;
        let mut c = HlcClock::new(Hlc::ZERO, -(year_ms as i64));
        let h = c.tick(server_now + year_ms).unwrap();
        assert_eq!(h.physical_ms(), server_now);
    }

    #[test]
    fn a_remote_stamp_far_in_the_future_is_refused_with_a_clear_error() {
        let mut c = HlcClock::new(Hlc::ZERO, 0);
        let now = 1_800_000_000_000;
        let far = Hlc::new(now + DEFAULT_MAX_DRIFT_MS + 1, 0);
        let err = c.observe(far, now).unwrap_err();
        assert!(matches!(err, ClockError::TooFarAhead { .. }));
        assert!(err.to_string().contains("ahead"));
        assert_eq!(
            c.last(),
            Hlc::ZERO,
            "a refused stamp does not move the clock"
        );
        c.observe(Hlc::new(now + 1000, 4), now).unwrap();
        assert!(c.tick(now).unwrap() > Hlc::new(now + 1000, 4));
    }

    #[test]
    fn counter_exhaustion_is_an_error_not_a_wrap() {
        let mut c = HlcClock::new(Hlc::new(10, u16::MAX), 0);
        assert_eq!(c.tick(10), Err(ClockError::CounterExhausted));
    }

    #[test]
    fn a_clock_that_ran_a_year_ahead_is_rebased_to_the_highest_trusted_stamp() {
        let year_ms: u64 = 365 * 24 * 3600 * 1000;
        let now = 1_800_000_000_000;
        // The phone stamped with a clock a year fast before it learned the offset.
        let mut c = HlcClock::new(Hlc::ZERO, 0);
        c.observe(Hlc::new(now - 10, 3), now + year_ms).unwrap();
        let ahead = c.tick(now + year_ms).unwrap();
        assert_eq!(ahead.physical_ms(), now + year_ms);
        // A sync reports the offset; every new stamp would still be a year ahead.
        c.set_offset_ms(-(year_ms as i64));
        assert!(c.tick(now + year_ms).unwrap() > c.horizon(now + year_ms));

        let was = c.rebase(now + year_ms, Hlc::new(now + 2_000, 1)).unwrap();
        assert!(was > ahead);
        assert_eq!(
            c.last(),
            Hlc::new(now + 2_000, 1),
            "the caller's floor is highest"
        );
        let next = c.tick(now + year_ms).unwrap();
        assert!(next > Hlc::new(now + 2_000, 1) && next <= c.horizon(now + year_ms));
        assert_eq!(
            c.rebase(now + year_ms, Hlc::ZERO),
            None,
            "a sane clock stays"
        );
    }

    #[test]
    fn a_rebase_never_goes_below_a_stamp_the_server_holds() {
        let now = 1_800_000_000_000;
        let mut c = HlcClock::new(Hlc::new(now + 3_600_000, 0), 0);
        c.observe(Hlc::new(now + 240_000, 0), now).unwrap(); // another phone, 4 min fast
        c.trust(Hlc::new(now + 100, 7)); // one of ours, accepted
        assert_eq!(c.trusted(), Hlc::new(now + 240_000, 0));
        c.rebase(now, Hlc::ZERO).unwrap();
        assert_eq!(c.last(), Hlc::new(now + 240_000, 0));
    }

    proptest! {
        #[test]
        fn ticks_are_strictly_increasing(walls in proptest::collection::vec(0u64..10_000, 1..200)) {
            let mut c = HlcClock::new(Hlc::ZERO, 0);
            let mut prev = Hlc::ZERO;
            for w in walls {
                let h = c.tick(w).unwrap();
                prop_assert!(h > prev);
                prev = h;
            }
        }
    }

    #[test]
    fn a_stale_answer_replayed_hours_late_does_not_set_the_clock_back() {
        let hour = 3_600_000u64;
        let t0 = 1_780_000_000_000u64;
        let mut c = HlcClock::new(Hlc::ZERO, 0);
        // A sync at t0: phone and server agree.
        assert!(c.learn_server_time(t0, t0));
        // Two hours later a sync gets a fresh answer, then the network replays the first one.
        assert!(c.learn_server_time(t0 + 2 * hour, t0 + 2 * hour));
        assert!(!c.learn_server_time(t0, t0 + 2 * hour + 10));
        assert_eq!(c.offset_ms(), 0, "the replay did not move the correction");
        assert_eq!(c.corrected_ms(t0 + 2 * hour + 10), t0 + 2 * hour + 10);
        // A fresh answer after the replay is taken as usual.
        assert!(c.learn_server_time(t0 + 2 * hour + 500, t0 + 2 * hour + 400));
        assert_eq!(c.offset_ms(), 100);
    }

    #[test]
    fn a_server_clock_really_set_back_is_followed_after_several_answers_agree() {
        let t0 = 1_780_000_000_000u64;
        let mut c = HlcClock::new(Hlc::ZERO, 0).with_server_seen_ms(t0 + 60_000);
        // The server's clock was a minute fast and was corrected: every answer now says so.
        for i in 1..SERVER_SETBACK_ANSWERS {
            assert!(
                !c.learn_server_time(t0 + u64::from(i), t0 + u64::from(i)),
                "answer {i}"
            );
        }
        let n = u64::from(SERVER_SETBACK_ANSWERS);
        assert!(c.learn_server_time(t0 + n, t0 + n));
        assert_eq!(c.offset_ms(), 0);
        assert_eq!(c.server_seen_ms(), t0 + n);
        // One newer answer between stale ones starts the count again.
        let mut c = HlcClock::new(Hlc::ZERO, 0).with_server_seen_ms(t0);
        assert!(!c.learn_server_time(t0 - 1, t0));
        assert!(c.learn_server_time(t0 + 5, t0));
        assert!(!c.learn_server_time(t0 - 1, t0));
        assert!(!c.learn_server_time(t0 - 1, t0));
        assert_eq!(c.offset_ms(), 5);
    }

    #[test]
    fn the_first_answer_corrects_a_clock_a_year_off_either_way() {
        let year = 365 * 86_400_000u64;
        let t0 = 1_780_000_000_000u64;
        let mut ahead = HlcClock::new(Hlc::ZERO, 0);
        assert!(ahead.learn_server_time(t0, t0 + year));
        assert_eq!(ahead.corrected_ms(t0 + year), t0);
        let mut behind = HlcClock::new(Hlc::ZERO, 0);
        assert!(behind.learn_server_time(t0, t0 - year));
        assert_eq!(behind.corrected_ms(t0 - year), t0);
    }
}
