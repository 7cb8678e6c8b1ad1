//! The server's decisions as plain functions over plain data: whether a pushed operation is
//! admitted and allowed for the user's role and scope, which area path (scope key) it belongs
//! to and where a record sits for the scope rules (`place`), everything a push stores
//! ([`plan`]), and what a reader receives of what is stored ([`reading`]). Every storage
//! backend calls these same functions, so SQLite and PostgreSQL cannot disagree about what is
//! accepted or sent. Nothing here reads a database.

pub mod admit;
pub mod authorize;
pub mod plan;
pub mod reading;

pub use admit::{
    Admitted, PushContext, Rejection, admit, check_author, check_ledger, needs_ledger,
};
pub use authorize::authorize;
// The lookups are pure and shared with the device, so they live in the domain crate.
pub use gridwork_domain::scope::{key_of, locate as place, moved, parent, responders, scope_key};

use gridwork_domain::ids::Id;
use gridwork_domain::scope::Place;

/// The buildings whose [`Place::responders`] a case's new place may change: the building it
/// was in and the one it is in (the same one, most often).
pub fn case_buildings(prior: Option<&Place>, place: &Place) -> Vec<Id> {
    let mut buildings: Vec<Id> = prior
        .and_then(|p| p.building)
        .into_iter()
        .chain(place.building)
        .collect();
    buildings.dedup();
    buildings
}
