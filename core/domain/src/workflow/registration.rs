//! Tenant registration (流动人口登记, hotel-style 旅店式): the figures the gridworker and the
//! building head are judged on (registration rate per person and per room, the people and the
//! rooms still to register, stays expiring or overdue) and the rules of the ledger: checking a
//! tenant in and out, and one household per unit of a building.
//!
//! Occupancy: the device cannot know that a room is occupied when nobody registered in it, so
//! an occupied rental room is a household of a rental kind (rental or group rental, 群租) that
//! is not archived. A rental room standing empty should be marked vacant (or archived) by the
//! gridworker; otherwise it counts as occupied and unregistered, which is the safe side: it
//! sends someone to knock on the door.
//!
//! Person-house matching (人房匹配, Caima's "100% registration" for five years): a person living
//! in a rental room is registered when they hold an open stay **in the room they live in** (the
//! resident's household). The rate per person is the figure Caima means; the rate per room
//! (at least one open stay) says where nobody registered at all.
//!
//! The ledger rules ([`household_rules`], [`registration_rules`]) judge a record against the
//! records of its building or tenant ([`Ledger`]). The phone runs them on what it holds before
//! writing; the server runs them again on what it has when the change arrives, so of two phones
//! that added the same unit (or checked the same person in) offline, the second to reach the
//! server is refused and told why.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::{Household, Registration, Resident};
use crate::op::EntityKind;
use crate::validate::{ResidentId, ValidationError};

/// The registration rate over a set of households (a building, a grid, a subdistrict), per
/// room and per person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationRate {
    /// Non-archived rental and group-rental households.
    pub occupied_rental_rooms: usize,
    /// Those with at least one active (not checked-out) registration.
    pub registered_rooms: usize,
    /// `registered_rooms / occupied_rental_rooms`, 1.0 when there is no such room (nothing is
    /// missing).
    pub room_rate: f64,
    /// The people living in those rooms: their non-archived residents.
    pub people_in_rentals: usize,
    /// Those holding an active registration for the room they live in (人房匹配).
    pub registered_people: usize,
    /// `registered_people / people_in_rentals`, 1.0 when nobody lives in a rental room: the
    /// registration rate as Caima counts it.
    pub person_rate: f64,
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

impl RegistrationRate {
    /// The rates over the given counts (1.0 where there is nothing to count).
    pub fn from_counts(
        occupied_rental_rooms: usize,
        registered_rooms: usize,
        people_in_rentals: usize,
        registered_people: usize,
    ) -> RegistrationRate {
        RegistrationRate {
            occupied_rental_rooms,
            registered_rooms,
            room_rate: share(registered_rooms, occupied_rental_rooms),
            people_in_rentals,
            registered_people,
            person_rate: share(registered_people, people_in_rentals),
        }
    }

    /// No room and nobody: everything registered.
    pub fn empty() -> RegistrationRate {
        RegistrationRate::from_counts(0, 0, 0, 0)
    }
}

fn is_occupied_rental(household: &Household) -> bool {
    !household.archived && household.kind.is_rental()
}

/// Who lives in the occupied rental rooms, and who is registered there.
struct Occupancy {
    rooms: Vec<Id>,
    /// Rooms with at least one active stay.
    registered_rooms: HashSet<Id>,
    /// People living in the rooms, by room.
    people: HashMap<Id, Vec<Id>>,
    /// (resident, room) pairs with an active stay.
    matched: HashSet<(Id, Id)>,
}

impl Occupancy {
    fn of(
        households: &[Household],
        residents: &[Resident],
        registrations: &[Registration],
    ) -> Occupancy {
        let mut rooms: Vec<Id> = households
            .iter()
            .filter(|h| is_occupied_rental(h))
            .map(|h| h.id)
            .collect();
        rooms.sort();
        rooms.dedup();
        let room_set: HashSet<Id> = rooms.iter().copied().collect();
        let active = registrations.iter().filter(|r| r.is_active());
        let mut registered_rooms = HashSet::new();
        let mut matched = HashSet::new();
        for r in active {
            registered_rooms.insert(r.household_id);
            matched.insert((r.resident_id, r.household_id));
        }
        let mut people: HashMap<Id, Vec<Id>> = HashMap::new();
        let mut seen = HashSet::new();
        for p in residents {
            if !p.archived && room_set.contains(&p.household_id) && seen.insert(p.id) {
                people.entry(p.household_id).or_default().push(p.id);
            }
        }
        Occupancy {
            rooms,
            registered_rooms,
            people,
            matched,
        }
    }

    fn unregistered_in(&self, room: Id) -> impl Iterator<Item = Id> + '_ {
        self.people
            .get(&room)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |p| !self.matched.contains(&(*p, room)))
    }
}

/// The registration rate of `households` given the residents and registrations (those of other
/// households are ignored). A room counts as registered when it has at least one active
/// registration, whether or not the stay's expected end has passed (an overdue stay is its own
/// figure, [`overdue_stays`]); a person when they hold an active registration for the room
/// they live in.
pub fn registration_rate(
    households: &[Household],
    residents: &[Resident],
    registrations: &[Registration],
) -> RegistrationRate {
    let o = Occupancy::of(households, residents, registrations);
    let registered_rooms = o
        .rooms
        .iter()
        .filter(|r| o.registered_rooms.contains(r))
        .count();
    let people: usize = o.people.values().map(Vec::len).sum();
    let unregistered: usize = o.rooms.iter().map(|r| o.unregistered_in(*r).count()).sum();
    RegistrationRate::from_counts(
        o.rooms.len(),
        registered_rooms,
        people,
        people - unregistered,
    )
}

/// The occupied rental rooms where someone is still to register, sorted by id: rooms with no
/// active stay at all (nobody knows who lives there) and rooms where a person living there
/// holds no stay in it. Where to knock.
pub fn unregistered_rooms(
    households: &[Household],
    residents: &[Resident],
    registrations: &[Registration],
) -> Vec<Id> {
    let o = Occupancy::of(households, residents, registrations);
    o.rooms
        .iter()
        .copied()
        .filter(|r| !o.registered_rooms.contains(r) || o.unregistered_in(*r).next().is_some())
        .collect()
}

/// The people living in occupied rental rooms without an active stay in the room they live
/// in, sorted by id: the people to register.
pub fn unregistered_people(
    households: &[Household],
    residents: &[Resident],
    registrations: &[Registration],
) -> Vec<Id> {
    let o = Occupancy::of(households, residents, registrations);
    let mut people: Vec<Id> = o.rooms.iter().flat_map(|r| o.unregistered_in(*r)).collect();
    people.sort();
    people
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

/// Checks a check-in's days: the stay's expected end, when given, is not before the check-in
/// day (a one-day stay ends on its check-in day).
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

/// What the ledger rules need besides the record they judge: for a household, the other
/// households of its building; for a stay, its room, its tenant and the tenant's other stays.
/// Records not known (not on this phone, not yet on the server) are simply absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// The households of the building (the judged one among them or not: it is skipped by id).
    pub households: Vec<Household>,
    /// The stay's room.
    pub room: Option<Household>,
    /// The stay's tenant.
    pub tenant: Option<Resident>,
    /// The tenant's stays (the judged one among them or not).
    pub stays: Vec<Registration>,
}

/// The fields whose change makes the ledger rules judge a record of `kind` again: a household's
/// unit, building or archived flag; a stay's tenant, room or check-out. A change to anything
/// else (a phone number) is not judged, so a duplicate from before the rules existed does not
/// block every later edit.
pub fn ledger_fields(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Household => &["unit", "building_id", "archived"],
        EntityKind::Registration => &["resident_id", "household_id", "check_out"],
        _ => &[],
    }
}

/// A unit as the rules compare it: full-width letters, digits and signs made half-width
/// (２－３０１ is 2-301), spaces dropped, letters in lower case.
pub fn unit_key(unit: &str) -> String {
    unit.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                c => c,
            };
            (!c.is_whitespace()).then(|| c.to_lowercase())
        })
        .flatten()
        .collect()
}

/// One household per unit of a building: a household that is not archived may not take the
/// unit of another household of its building that is not archived either (a household that
/// moved out, archived, frees its unit). Refused on `household.unit`.
pub fn household_rules(household: &Household, ledger: &Ledger) -> Result<(), ValidationError> {
    if household.archived {
        return Ok(());
    }
    let key = unit_key(&household.unit);
    let taken = ledger.households.iter().any(|other| {
        other.id != household.id
            && other.building_id == household.building_id
            && !other.archived
            && unit_key(&other.unit) == key
    });
    if taken {
        return Err(ValidationError::new(
            "household.unit",
            "another household of this building already has this unit: add the people to it \
             instead",
        ));
    }
    Ok(())
}

/// The rules of an open stay (a check-in), judged against its room, tenant and the tenant's
/// other stays; a checked-out stay is not judged.
/// - the tenant is known and has not moved out (`registration.resident_id`);
/// - the tenant holds a valid resident ID number (登记须核验身份证, `resident.id_number`);
/// - the room is the tenant's own household's (人房匹配, `registration.household_id`), and is
///   not archived;
/// - the tenant holds no other open stay: check the old one out first
///   (`registration.resident_id`).
pub fn registration_rules(stay: &Registration, ledger: &Ledger) -> Result<(), ValidationError> {
    if !stay.is_active() {
        return Ok(());
    }
    let Some(tenant) = ledger.tenant.as_ref().filter(|t| t.id == stay.resident_id) else {
        return Err(ValidationError::new(
            "registration.resident_id",
            "no resident with this id is known: record the tenant in the room first",
        ));
    };
    if tenant.archived {
        return Err(ValidationError::new(
            "registration.resident_id",
            "the resident has moved out (archived)",
        ));
    }
    let valid_id = tenant
        .id_number
        .as_deref()
        .is_some_and(|n| ResidentId::parse("resident.id_number", n).is_ok());
    if !valid_id {
        return Err(ValidationError::new(
            "resident.id_number",
            "a tenant is checked in with a valid resident ID number (登记须核验身份证): record it \
             on the resident first",
        ));
    }
    if tenant.household_id != stay.household_id {
        return Err(ValidationError::new(
            "registration.household_id",
            "a tenant is checked in to the room they live in (人房匹配): record the resident in \
             this room first",
        ));
    }
    if ledger
        .room
        .as_ref()
        .is_some_and(|room| room.id == stay.household_id && room.archived)
    {
        return Err(ValidationError::new(
            "registration.household_id",
            "the room is archived (moved out); restore it before checking a tenant in",
        ));
    }
    let other_open = ledger
        .stays
        .iter()
        .any(|r| r.id != stay.id && r.resident_id == stay.resident_id && r.is_active());
    if other_open {
        return Err(ValidationError::new(
            "registration.resident_id",
            "the tenant already has an open stay: check it out first",
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

    /// The tenant of `stay(n, ..)` living in `room`, with a valid ID number.
    fn tenant(n: u128, room: u128) -> Resident {
        Resident {
            id: id(0x2000 + n),
            household_id: id(room),
            name: format!("租客{n}"),
            id_number: Some("11010519491231002X".into()),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        }
    }

    #[test]
    fn caimas_building_with_every_tenant_registered_is_at_100_percent() {
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::GroupRental),
        ];
        let people = [tenant(1, 1), tenant(2, 2), tenant(3, 2)];
        let stays = [
            stay(1, 1, date(2025, 1, 1), None),
            stay(2, 2, date(2025, 2, 1), Some(date(2025, 8, 1))),
            stay(3, 2, date(2025, 2, 1), None), // a second bed in the group rental
        ];
        let rate = registration_rate(&rooms, &people, &stays);
        assert_eq!(rate, RegistrationRate::from_counts(2, 2, 3, 3));
        assert_eq!((rate.room_rate, rate.person_rate), (1.0, 1.0));
        assert!(unregistered_rooms(&rooms, &people, &stays).is_empty());
        assert!(unregistered_people(&rooms, &people, &stays).is_empty());
    }

    #[test]
    fn the_registration_rate_counts_people_not_only_rooms() {
        // Every room has a stay, but only one person per room holds it: the rooms look done,
        // two people in three are not registered.
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::GroupRental),
        ];
        let people = [
            tenant(1, 1),
            tenant(4, 1),
            tenant(2, 2),
            tenant(5, 2),
            tenant(6, 2),
        ];
        let stays = [
            stay(1, 1, date(2025, 1, 1), None),
            stay(2, 2, date(2025, 1, 1), None),
        ];
        let rate = registration_rate(&rooms, &people, &stays);
        assert_eq!((rate.registered_rooms, rate.room_rate), (2, 1.0));
        assert_eq!((rate.people_in_rentals, rate.registered_people), (5, 2));
        assert_eq!(rate.person_rate, 0.4);
        assert_eq!(
            unregistered_people(&rooms, &people, &stays),
            vec![id(0x2004), id(0x2005), id(0x2006)]
        );
        assert_eq!(
            unregistered_rooms(&rooms, &people, &stays),
            vec![id(1), id(2)],
            "occupied rooms with unregistered people"
        );
    }

    #[test]
    fn a_stay_in_another_room_than_the_one_a_person_lives_in_does_not_register_them() {
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::Rental),
        ];
        // Tenant 1 lives in room 2 (moved) but the open stay is still in room 1.
        let people = [tenant(1, 2)];
        let stays = [stay(1, 1, date(2025, 1, 1), None)];
        let rate = registration_rate(&rooms, &people, &stays);
        assert_eq!((rate.people_in_rentals, rate.registered_people), (1, 0));
        assert_eq!(
            unregistered_people(&rooms, &people, &stays),
            vec![id(0x2001)]
        );
    }

    #[test]
    fn only_non_archived_rental_rooms_and_residents_count_as_occupied() {
        let mut archived = room(3, HouseholdKind::Rental);
        archived.archived = true;
        let rooms = [
            room(1, HouseholdKind::Rental),
            room(2, HouseholdKind::OwnerOccupied),
            archived,
            room(4, HouseholdKind::Vacant),
            room(5, HouseholdKind::GroupRental),
        ];
        let mut gone = tenant(7, 5);
        gone.archived = true;
        let people = [tenant(1, 1), tenant(2, 2), tenant(3, 3), gone];
        let stays = [stay(1, 1, date(2025, 1, 1), None)];
        let rate = registration_rate(&rooms, &people, &stays);
        assert_eq!(rate.occupied_rental_rooms, 2);
        assert_eq!(rate.registered_rooms, 1);
        assert_eq!(rate.room_rate, 0.5);
        assert_eq!((rate.people_in_rentals, rate.person_rate), (1, 1.0));
        assert_eq!(unregistered_rooms(&rooms, &people, &stays), vec![id(5)]);
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
        let rate = registration_rate(&rooms, &[], &stays);
        assert_eq!((rate.registered_rooms, rate.room_rate), (1, 0.5));
        assert_eq!(unregistered_rooms(&rooms, &[], &stays), vec![id(1)]);
    }

    #[test]
    fn no_rental_rooms_means_nothing_is_missing() {
        let rooms = [room(1, HouseholdKind::OwnerOccupied)];
        let people = [tenant(1, 1)];
        let rate = registration_rate(&rooms, &people, &[]);
        assert_eq!((rate.room_rate, rate.person_rate), (1.0, 1.0));
        assert_eq!(registration_rate(&[], &[], &[]), RegistrationRate::empty());
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

    fn ledger_for(stay: &Registration, tenant: Option<Resident>) -> Ledger {
        Ledger {
            households: vec![],
            room: Some(room(1, HouseholdKind::Rental)),
            tenant,
            stays: vec![stay.clone()],
        }
    }

    #[test]
    fn a_tenant_check_in_needs_a_valid_id_number() {
        let s = stay(1, 1, date(2025, 3, 4), None);
        let mut t = tenant(1, 1);
        registration_rules(&s, &ledger_for(&s, Some(t.clone()))).unwrap();
        t.id_number = None;
        let err = registration_rules(&s, &ledger_for(&s, Some(t.clone()))).unwrap_err();
        assert_eq!(err.field, "resident.id_number");
        t.id_number = Some("110105194912310021".into()); // wrong check digit
        let err = registration_rules(&s, &ledger_for(&s, Some(t))).unwrap_err();
        assert_eq!(err.field, "resident.id_number");
        let err = registration_rules(&s, &ledger_for(&s, None)).unwrap_err();
        assert_eq!(err.field, "registration.resident_id");
    }

    #[test]
    fn a_tenant_checks_in_only_to_the_room_of_their_own_household() {
        let s = stay(1, 1, date(2025, 3, 4), None);
        let err = registration_rules(&s, &ledger_for(&s, Some(tenant(1, 9)))).unwrap_err();
        assert_eq!(err.field, "registration.household_id");
        assert!(err.problem.contains("人房匹配"), "{}", err.problem);
    }

    #[test]
    fn a_person_holds_one_open_stay_at_a_time() {
        let s = stay(1, 1, date(2025, 3, 4), None);
        let mut ledger = ledger_for(&s, Some(tenant(1, 1)));
        let mut elsewhere = stay(1, 2, date(2025, 1, 1), None);
        elsewhere.id = id(0x1999);
        ledger.stays.push(elsewhere.clone());
        let err = registration_rules(&s, &ledger).unwrap_err();
        assert_eq!(err.field, "registration.resident_id");
        assert!(err.problem.contains("open stay"));
        ledger.stays = vec![checked_out(elsewhere, date(2025, 3, 1))];
        registration_rules(&s, &ledger).unwrap();
    }

    #[test]
    fn a_moved_out_tenant_or_an_archived_room_takes_no_check_in_but_a_check_out_is_never_judged() {
        let s = stay(1, 1, date(2025, 3, 4), None);
        let mut gone = tenant(1, 1);
        gone.archived = true;
        assert!(registration_rules(&s, &ledger_for(&s, Some(gone))).is_err());
        let mut ledger = ledger_for(&s, Some(tenant(1, 1)));
        ledger.room.as_mut().unwrap().archived = true;
        assert_eq!(
            registration_rules(&s, &ledger).unwrap_err().field,
            "registration.household_id"
        );
        let out = checked_out(s, date(2025, 3, 5));
        registration_rules(&out, &Ledger::default()).unwrap();
    }

    #[test]
    fn a_unit_is_unique_within_its_building() {
        let mut taken = room(301, HouseholdKind::Rental);
        taken.unit = "2-301".into();
        let mut again = room(302, HouseholdKind::Rental);
        again.unit = " ２－３０１ ".into(); // typed full-width on a phone
        let ledger = Ledger {
            households: vec![taken.clone(), again.clone()],
            ..Ledger::default()
        };
        let err = household_rules(&again, &ledger).unwrap_err();
        assert_eq!(err.field, "household.unit");
        // The household itself, an archived one, or one in another building does not clash.
        household_rules(
            &taken,
            &Ledger {
                households: vec![taken.clone()],
                ..Ledger::default()
            },
        )
        .unwrap();
        let mut moved_out = taken.clone();
        moved_out.archived = true;
        household_rules(
            &again,
            &Ledger {
                households: vec![moved_out],
                ..Ledger::default()
            },
        )
        .unwrap();
        let mut other_building = taken;
        other_building.building_id = id(0xB2);
        household_rules(
            &again,
            &Ledger {
                households: vec![other_building],
                ..Ledger::default()
            },
        )
        .unwrap();
        assert_eq!(unit_key("２－３０１ Ａ"), "2-301a");
    }

    #[test]
    fn the_ledger_rules_judge_only_changes_to_what_they_are_about() {
        assert_eq!(
            ledger_fields(EntityKind::Household),
            &["unit", "building_id", "archived"]
        );
        assert!(ledger_fields(EntityKind::Registration).contains(&"check_out"));
        assert!(ledger_fields(EntityKind::Resident).is_empty());
    }
}
