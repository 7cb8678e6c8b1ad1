//! Record and device identity: UUID v7 made on the device that creates the record.
//!
//! No id is ever assigned by the server, so a record created offline needs no round trip.
//! Version 7 ids sort by creation time, which keeps SQLite's primary-key b-trees append-mostly.

use uuid::Uuid;

/// The id of any record (area, building, household, case, ...). Unique across kinds.
pub type Id = Uuid;

/// The id of an enrolled device (one phone, one CLI store).
pub type DeviceId = Uuid;

/// A fresh, time-ordered record id.
pub fn new_id() -> Id {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_increase() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a, "v7 ids made in sequence sort in sequence");
    }
}
