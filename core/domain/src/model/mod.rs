//! The records a device keeps: areas, buildings, households, residents, tenant registrations,
//! micro fire stations, cases and patrols. Plain data; validation is in [`crate::validate`],
//! behaviour in [`crate::workflow`].

pub mod area;
pub mod building;
pub mod case;
pub mod entity;
pub mod household;
pub mod patrol;
pub mod terms;

pub use area::{Area, AreaLevel};
pub use building::{Building, BuildingKind, Station};
pub use case::{Case, CaseKind, Severity};
pub use entity::Entity;
pub use household::{Household, HouseholdKind, KeyGroup, Registration, Resident};
pub use patrol::{Patrol, PatrolVisit};
pub use terms::Term;
