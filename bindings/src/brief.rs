//! Reports as the apps see them: tenant stays and registration rates, key-group visits due,
//! and the weekly brief (its headline figures as fields, the whole as Markdown and JSON).
//!
//! Mirrors kept on purpose (ADR 0050): ids as UUID strings, days as `YYYY-MM-DD`, counts signed
//! (ADR 0032), and the brief's figures flattened into fields beside its Markdown and JSON.

use gridwork_domain::workflow;

use crate::cases::CaseKind;
use crate::convert::{day_text, id_text, narrow, wide};
use crate::model::Registration;

/// A tenant's stay with where it is, for the stays lists.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StayView {
    pub registration: Registration,
    pub resident_name: String,
    pub unit: String,
    pub building_id: String,
    pub address: String,
}

impl From<gridwork_core::StayView> for StayView {
    fn from(s: gridwork_core::StayView) -> Self {
        StayView {
            registration: s.registration.into(),
            resident_name: s.resident_name,
            unit: s.unit,
            building_id: id_text(s.building_id),
            address: s.address,
        }
    }
}

/// A rented room where someone is still to register: nobody checked in, or a person living
/// there without a stay in it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UnregisteredRoom {
    pub household_id: String,
    pub unit: String,
    pub building_id: String,
    pub address: String,
    /// People recorded in the room without a stay in it (0: nobody recorded).
    pub unregistered_people: i32,
    /// Whether any stay in the room is open.
    pub any_registered: bool,
}

impl From<gridwork_core::UnregisteredRoom> for UnregisteredRoom {
    fn from(r: gridwork_core::UnregisteredRoom) -> Self {
        UnregisteredRoom {
            household_id: id_text(r.household_id),
            unit: r.unit,
            building_id: id_text(r.building_id),
            address: r.address,
            unregistered_people: narrow(r.unregistered_people),
            any_registered: r.any_registered,
        }
    }
}

/// A person living in a rented room without an open stay in it (ID number masked).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UnregisteredTenant {
    pub resident_id: String,
    pub name: String,
    pub id_number_masked: Option<String>,
    pub household_id: String,
    pub unit: String,
    pub building_id: String,
    pub address: String,
}

impl From<gridwork_core::UnregisteredTenant> for UnregisteredTenant {
    fn from(t: gridwork_core::UnregisteredTenant) -> Self {
        UnregisteredTenant {
            resident_id: id_text(t.resident_id),
            name: t.name,
            id_number_masked: t.id_number_masked,
            household_id: id_text(t.household_id),
            unit: t.unit,
            building_id: id_text(t.building_id),
            address: t.address,
        }
    }
}

/// Registration per person (人房匹配: people holding an open stay in the room they live in) and
/// per room (rooms with at least one open stay).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RegistrationRate {
    pub occupied_rental_rooms: i64,
    pub registered_rooms: i64,
    /// `registered_rooms / occupied_rental_rooms`; 1.0 when there is no such room.
    pub room_rate: f64,
    pub people_in_rentals: i64,
    pub registered_people: i64,
    /// `registered_people / people_in_rentals`; 1.0 when nobody lives in a rented room.
    pub person_rate: f64,
}

impl From<workflow::RegistrationRate> for RegistrationRate {
    fn from(r: workflow::RegistrationRate) -> Self {
        RegistrationRate {
            occupied_rental_rooms: wide(r.occupied_rental_rooms),
            registered_rooms: wide(r.registered_rooms),
            room_rate: r.room_rate,
            people_in_rentals: wide(r.people_in_rentals),
            registered_people: wide(r.registered_people),
            person_rate: r.person_rate,
        }
    }
}

/// A key-group resident whose regular visit is overdue.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OverdueVisit {
    pub resident_id: String,
    pub name: String,
    pub household_id: String,
    pub unit: String,
    pub address: String,
    pub last_visit_ms: Option<i64>,
    pub interval_days: i32,
    /// The last moment the visit was on time; 0 when never visited.
    pub due_ms: i64,
}

impl From<gridwork_core::OverdueVisit> for OverdueVisit {
    fn from(v: gridwork_core::OverdueVisit) -> Self {
        OverdueVisit {
            resident_id: id_text(v.due.resident_id),
            name: v.name,
            household_id: id_text(v.household_id),
            unit: v.unit,
            address: v.address,
            last_visit_ms: v.due.last_visit_ms.map(wide),
            interval_days: narrow(v.due.interval_days),
            due_ms: wide(v.due.due_ms),
        }
    }
}

/// Cases of one kind in the brief's week.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KindCount {
    pub kind: CaseKind,
    pub opened: i64,
    pub closed: i64,
    pub open_at_week_end: i64,
}

/// The weekly brief of an area for the Tuesday meeting: the headline figures, and the whole
/// brief as Markdown (to show or share) and as JSON (every figure, for custom screens).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WeeklyBrief {
    pub area_name: String,
    pub week_start: String,
    pub week_end: String,
    pub cases: Vec<KindCount>,
    /// Open cases at week end by colour.
    pub red: i64,
    pub yellow: i64,
    pub green: i64,
    pub alarms_opened: i64,
    pub alarms_without_arrival: i64,
    /// The median crew arrival time in minutes, when there was an arrival.
    pub median_arrival_minutes: Option<f64>,
    /// The share of the week's crew arrivals within their target.
    pub alarms_within_target: Option<f64>,
    pub incidents_opened: i64,
    pub hazards_found: i64,
    pub hazards_fixed: i64,
    /// Per person (人房匹配), the registration figure.
    pub registration_rate_per_person: f64,
    pub registration_rate_per_room: f64,
    /// Small disputes settled overnight (小事不过夜) among those whose outcome came in the week.
    pub disputes_settled_overnight: Option<f64>,
    /// Big disputes settled within the month (大事不满月).
    pub disputes_settled_within_month: Option<f64>,
    /// The response policy in force at week end, summarised.
    pub response_policy: String,
    /// The brief was made before the week is over: the figures stand as at when it was made.
    pub week_not_over: bool,
    pub patrol_visits: i64,
    pub markdown: String,
    pub json: String,
}

impl From<workflow::WeeklyBrief> for WeeklyBrief {
    fn from(b: workflow::WeeklyBrief) -> Self {
        WeeklyBrief {
            area_name: b.area_name.clone(),
            week_start: day_text(b.week_start),
            week_end: day_text(b.week_end),
            cases: b
                .cases
                .iter()
                .map(|k| KindCount {
                    kind: k.kind,
                    opened: wide(k.opened),
                    closed: wide(k.closed),
                    open_at_week_end: wide(k.open_at_week_end),
                })
                .collect(),
            red: wide(b.colours.red),
            yellow: wide(b.colours.yellow),
            green: wide(b.colours.green),
            alarms_opened: wide(b.alarms.opened),
            alarms_without_arrival: wide(b.alarms.without_arrival),
            median_arrival_minutes: b.alarms.arrival.as_ref().map(|a| a.median_minutes),
            alarms_within_target: b.alarms.arrival.as_ref().map(|a| a.share_within_target),
            incidents_opened: wide(b.incidents.opened),
            hazards_found: wide(b.hazards.found),
            hazards_fixed: wide(b.hazards.fixed),
            registration_rate_per_person: b.registration.rate.person_rate,
            registration_rate_per_room: b.registration.rate.room_rate,
            disputes_settled_overnight: b.disputes.overnight.share,
            disputes_settled_within_month: b.disputes.within_month.share,
            response_policy: b.policy.in_force.summary(),
            week_not_over: b.week_not_over,
            patrol_visits: wide(b.patrol_visits),
            markdown: b.to_markdown(),
            json: serde_json::to_string(&b).unwrap_or_default(),
        }
    }
}
