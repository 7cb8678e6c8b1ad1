//! Record and device identity: UUID v7 made on the device that creates the record.
//!
//! No id is ever assigned by the server, so a record created offline needs no round trip.
//! Version 7 ids sort by creation time, which keeps SQLite's primary-key b-trees append-mostly.
//!
//! The domain reads neither the clock nor the OS random source (it is sans-I/O, and clippy's
//! `disallowed-methods` in this crate's `clippy.toml` forbids both): the caller passes the time
//! and the random bits in. The device core's `gridwork_core::new_id` is the one that reads them.

use uuid::Uuid;

/// The id of any record (area, building, household, case, ...). Unique across kinds.
pub type Id = Uuid;

/// The id of an enrolled device (one phone, one CLI store).
pub type DeviceId = Uuid;

/// A time-ordered record id made from `now_ms` (Unix time in ms) and 80 random bits, both
/// given by the caller; `after` is the last id the same caller made: the new id sorts after it
/// even within the same millisecond or when the clock stepped back (RFC 9562's monotonic
/// random: the previous id's random bits plus one).
pub fn new_id(now_ms: u64, random: [u8; 10], after: Option<Id>) -> Id {
    let fresh = uuid::Builder::from_unix_timestamp_millis(now_ms, &random).into_uuid();
    match after {
        Some(last) if fresh <= last => successor(last),
        _ => fresh,
    }
}

/// The v7 id right after `last`: its 74 random bits plus one, carrying into the time.
fn successor(last: Id) -> Id {
    const RAND_B: u128 = (1 << 62) - 1;
    let v = last.as_u128();
    let mut ms = v >> 80;
    let mut rand_a = (v >> 64) & 0xfff;
    let mut rand_b = v & RAND_B;
    if rand_b == RAND_B {
        rand_b = 0;
        if rand_a == 0xfff {
            rand_a = 0;
            ms = (ms + 1) & ((1 << 48) - 1);
        } else {
            rand_a += 1;
        }
    } else {
        rand_b += 1;
    }
    Uuid::from_u128((ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
}

/// Distinct ids for the domain's tests (the domain has no clock to make real ones).
#[cfg(test)]
pub(crate) fn test_id() -> Id {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    new_id(
        1_795_000_000_000,
        [0; 10],
        Some(Uuid::from_u128(
            (1_795_000_000_000u128 << 80)
                | (0x7 << 76)
                | (0b10 << 62)
                | NEXT.fetch_add(1, Ordering::Relaxed) as u128,
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_made_from_the_time_and_the_random_bits_it_is_given() {
        let a = new_id(1_795_000_000_000, [7; 10], None);
        assert_eq!(
            a,
            new_id(1_795_000_000_000, [7; 10], None),
            "no hidden input"
        );
        assert_eq!(a.get_version_num(), 7);
        let (secs, nanos) = a.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1_000 + u64::from(nanos) / 1_000_000,
            1_795_000_000_000
        );
        assert_ne!(a, new_id(1_795_000_000_000, [8; 10], None));
    }

    #[test]
    fn ids_made_in_sequence_sort_in_sequence_even_within_a_millisecond_or_a_clock_step_back() {
        let a = new_id(1_795_000_000_000, [0xff; 10], None);
        let b = new_id(1_795_000_000_000, [0; 10], Some(a));
        assert!(b > a, "same millisecond, smaller random bits");
        let c = new_id(1_794_999_000_000, [9; 10], Some(b));
        assert!(c > b, "the clock stepped back a second");
        assert_eq!(c.get_version_num(), 7);
        assert_eq!(c.get_variant(), uuid::Variant::RFC4122);
        let d = new_id(1_795_000_000_001, [0; 10], Some(c));
        assert!(d > c);
        // The random bits all ones carry into the time.
        let full = Uuid::from_u128(
            (1_795_000_000_000u128 << 80)
                | (0x7 << 76)
                | (0xfff << 64)
                | (0b10 << 62)
                | ((1 << 62) - 1),
        );
        let next = new_id(0, [0; 10], Some(full));
        assert!(next > full);
        assert_eq!(next.get_version_num(), 7);
    }
}
