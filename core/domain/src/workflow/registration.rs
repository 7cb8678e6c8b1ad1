//! Tenant registration (流动人口登记, hotel-style 旅店式): the figures the gridworker and the
//! building head are judged on (registration rate, unregistered occupied rooms, stays expiring
//! or overdue) and the rules for checking a tenant in and out.
//!
//! Occupancy: the device cannot know that a room is occupied when nobody registered in it, so
//! an occupied rental room is a household of a rental kind (rental or group rental, 群租) that
//! is not archived. A rental room standing empty should be marked vacant (or archived) by the
//! gridworker; otherwise it counts as occupied and unregistered, which is the safe side: it
//! sends someone to knock on the door.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::{Household, Registration};
use crate::validate::ValidationError;

/// The registration rate over a set of households (a building, a grid, a subdistrict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationRate {
    /// Non-archived rental and group-rental households.
    pub occupied_rental_rooms: usize,
    /// Those with at least one active (not checked-out) registration.
    pub registered_rooms: usize,
    /// `registered_rooms / occupied_rental_rooms`, 1.0 when there is no such room (nothing is
    /// missing).
    pub rate: f64,
}

impl RegistrationRate {
    /// The rate over the given counts (1.0 when there are no rooms).
    pub fn from_counts(occupied_rental_rooms: usize, registered_rooms: usize) -> RegistrationRate {
        let rate = if occupied_rental_rooms == 0 {
            1.0
        } else {
            registered_rooms as f64 / occupied_rental_rooms as f64
        };
        RegistrationRate {
            occupied_rental_rooms,
            registered_rooms,
            rate,
        }
    }
}

fn is_occupied_rental(household: &Household) -> bool {
    !household.archived && household.kind.is_rental()
}

fn registered_households(registrations: &[Registration]) -> std::collections::HashSet<Id> {
    registrations
        .iter()
        .filter(|r| r.is_active())
        .map(|r| r.household_id)
        .collect()
}

/// The registration rate of `households` given `registrations` (registrations of other
/// households are ignored). A room counts as registered when it has at least one active
/// registration, whether or not the stay's expected end has passed: an overdue stay is its own
/// figure ([`overdue_stays`]).
pub fn registration_rate(
    households: &[Household],
    registrations: &[Registration],
) -> RegistrationRate {
    let registered = registered_households(registrations);
    let rooms: Vec<&Household> = households
        .iter()
        .filter(|h| is_occupied_rental(h))
        .collect();
    let registered_rooms = rooms.iter().filter(|h| registered.contains(&h.id)).count();
    RegistrationRate::from_counts(rooms.len(), registered_rooms)
}

/// The occupied rental rooms with no active registration, sorted by id: where to knock.
pub fn unregistered_rooms(households: &[Household], registrations: &[Registration]) -> Vec<Id> {
    let registered = registered_households(registrations);
    let mut rooms: Vec<Id> = households
        .iter()
        .filter(|h| is_occupied_rental(h) && !registered.contains(&h.id))
        .map(|h| h.id)
        .collect();
    rooms.sort();
    rooms.dedup();
    rooms
}

/// Active stays whose expected end falls within `within_days` from `today`, both ends
/// included (`within_days = 0`: ending today), soonest first.
pub fn expiring_soon(
    registrations: &[Registration],
    today: NaiveDate,
    within_days: u32,
) -> Vec<&Registration> {
    let last = today
        .checked_add_days(Days::new(u64::from(within_days)))
        .unwrap_or(NaiveDate::MAX);
    let mut found: Vec<&Registration> = registrations
        .iter()
        .filter(|r| r.is_active())
        .filter(|r| {
            r.expected_end
                .is_some_and(|end| end >= today && end <= last)
        })
        .collect();
    found.sort_by_key(|r| (r.expected_end, r.id));
    found
}

/// Active stays whose expected end is before `today` (the tenant should have checked out or
/// renewed), longest overdue first.
pub fn overdue_stays(registrations: &[Registration], today: NaiveDate) -> Vec<&Registration> {
    let mut found: Vec<&Registration> = registrations
        .iter()
        .filter(|r| r.is_active() && r.expected_end.is_some_and(|end| end < today))
        .collect();
    found.sort_by_key(|r| (r.expected_end, r.id));
    found
}

/// Checks a check-in: the stay's expected end, when given, is not before the check-in day
/// (a one-day stay ends on its check-in day).
pub fn check_in_rules(
    check_in: NaiveDate,
    expected_end: Option<NaiveDate>,
) -> Result<(), ValidationError> {
    match expected_end {
        Some(end) if end < check_in => Err(ValidationError::new(
            "registration.expected_end",
            "the expected end of the stay is before the check-in day",
        )),
        _ => Ok(()),
    }
}

/// Checks a check-out of `registration` on `check_out`: the tenant has not already checked out,
/// and does not leave before arriving.
pub fn check_out_rules(
    registration: &Registration,
    check_out: NaiveDate,
) -> Result<(), ValidationError> {
    if registration.check_out.is_some() {
        return Err(ValidationError::new(
            "registration.check_out",
            "the tenant has already checked out",
        ));
    }
    if check_out < registration.check_in {
        return Err(ValidationError::new(
            "registration.check_out",
            "the check-out day is before the check-in day",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HouseholdKind;
    use crate::workflow::test_support::*;

    fn room(n: u128, kind: HouseholdKind) -> Household {
        Household {
            id: id(n),
            building_id: id(0xB1),
            unit: format!("2-{n:03}"),
            kind,
            phone: None,
            archived: false,
        }
    }

    fn stay(n: u128, room: u128, check_in: NaiveDate, end: Option<NaiveDate>) -> Registration {
        Registration {
            id: id(0x1000 + n),
            resident_id: id(0x2000 + n),
            household_id: id(room),
            check_in,
            expected_end: end,
            check_out: None,
        }
    }

    fn checked_out(mut r: Registration, on: NaiveDate) -> Registration {
        r.check_out = Some(on);
        r
    }

    #[test]
    fn caimas_building_with_every_tenant_registered_is_at_100_percent() {
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::GroupRental),
        ];
        let stays = [
            stay(1, 1, date(2025, 1, 1), None),
            stay(2, 2, date(2025, 2, 1), Some(date(2025, 8, 1))),
            stay(3, 2, date(2025, 2, 1), None), // a second bed in the group rental
        ];
        let rate = registration_rate(&rooms, &stays);
        assert_eq!(
            rate,
            RegistrationRate {
                occupied_rental_rooms: 2,
                registered_rooms: 2,
                rate: 1.0
            }
        );
        assert!(unregistered_rooms(&rooms, &stays).is_empty());
    }

    #[test]
    fn only_non_archived_rental_rooms_count_as_occupied() {
        let mut archived = room(3, HouseholdKind::Rental);
        archived.archived = true;
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::OwnerOccupied),
            archived,
            room(4, HouseholdKind::Vacant),
            room(5, HouseholdKind::GroupRental),
        ];
        let stays = [stay(1, 1, date(2025, 1, 1), None)];
        let rate = registration_rate(&rooms, &stays);
        assert_eq!(rate.occupied_rental_rooms, 2);
        assert_eq!(rate.registered_rooms, 1);
        assert_eq!(rate.rate, 0.5);
        assert_eq!(unregistered_rooms(&rooms, &stays), vec![id(5)]);
    }

    #[test]
    fn a_room_whose_only_tenant_checked_out_is_unregistered() {
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::Rental),
        ];
        let stays = [
            checked_out(stay(1, 1, date(2025, 1, 1), None), date(2025, 3, 1)),
            stay(2, 2, date(2025, 1, 1), Some(date(2025, 2, 1))), // overdue, still registered
        ];
        let rate = registration_rate(&rooms, &stays);
        assert_eq!((rate.registered_rooms, rate.rate), (1, 0.5));
        assert_eq!(unregistered_rooms(&rooms, &stays), vec![id(1)]);
    }

    #[test]
    fn no_rental_rooms_means_nothing_is_missing() {
        let rooms = [room(1, HouseholdKind::OwnerOccupied)];
        assert_eq!(registration_rate(&rooms, &[]).rate, 1.0);
        assert_eq!(registration_rate(&[], &[]).rate, 1.0);
    }

    #[test]
    fn stays_expiring_within_a_week_are_listed_soonest_first() {
        let today = date(2025, 3, 4);
        let stays = [
            stay(1, 1, date(2025, 1, 1), Some(date(2025, 3, 11))), // today + 7: included
            stay(2, 2, date(2025, 1, 1), Some(date(2025, 3, 12))), // today + 8: not yet
            stay(3, 3, date(2025, 1, 1), Some(date(2025, 3, 4))),  // ends today: included
            stay(4, 4, date(2025, 1, 1), Some(date(2025, 3, 3))),  // yesterday: overdue instead
            stay(5, 5, date(2025, 1, 1), None),                    // open-ended
            checked_out(
                stay(6, 6, date(2025, 1, 1), Some(date(2025, 3, 5))),
                date(2025, 3, 1),
            ),
        ];
        let ids: Vec<Id> = expiring_soon(&stays, today, 7)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![id(0x1003), id(0x1001)]);
        let today_only: Vec<Id> = expiring_soon(&stays, today, 0)
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(today_only, vec![id(0x1003)]);
    }

    #[test]
    fn stays_past_their_expected_end_are_overdue_longest_first() {
        let today = date(2025, 3, 4);
        let stays = [
            stay(1, 1, date(2025, 1, 1), Some(date(2025, 3, 3))),
            stay(2, 2, date(2025, 1, 1), Some(date(2025, 2, 1))),
            stay(3, 3, date(2025, 1, 1), Some(date(2025, 3, 4))), // ends today: not overdue
            checked_out(
                stay(4, 4, date(2025, 1, 1), Some(date(2025, 1, 2))),
                date(2025, 1, 2),
            ),
        ];
        let ids: Vec<Id> = overdue_stays(&stays, today).iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![id(0x1002), id(0x1001)]);
    }

    #[test]
    fn a_building_head_cannot_check_a_tenant_in_with_an_end_before_the_start() {
        let err = check_in_rules(date(2025, 3, 4), Some(date(2025, 3, 3))).unwrap_err();
        assert_eq!(err.field, "registration.expected_end");
        assert!(check_in_rules(date(2025, 3, 4), Some(date(2025, 3, 4))).is_ok());
        assert!(check_in_rules(date(2025, 3, 4), None).is_ok());
    }

    #[test]
    fn a_tenant_checks_out_once_and_not_before_checking_in() {
        let r = stay(1, 1, date(2025, 3, 1), None);
        assert!(
            check_out_rules(&r, date(2025, 3, 1)).is_ok(),
            "a same-day stay is fine"
        );
        let early = check_out_rules(&r, date(2025, 2, 28)).unwrap_err();
        assert_eq!(early.field, "registration.check_out");
        assert!(early.problem.contains("before the check-in"));
        let gone = checked_out(r, date(2025, 3, 10));
        let twice = check_out_rules(&gone, date(2025, 3, 11)).unwrap_err();
        assert_eq!(twice.field, "registration.check_out");
        assert!(twice.problem.contains("already checked out"));
    }
}
