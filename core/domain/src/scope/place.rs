//! [`Place`]: where a record sits in the city, as far as scopes care. The server derives it from
//! the record's links (a resident through its household's building to the grid; a case through
//! its building or area, and its events), the device from its own copy.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::CaseKind;
use crate::op::EntityKind;
use crate::workflow::{CaseAction, CaseEvent, DefenceLevel};

/// The facts of a case that decide who sees it besides the people of its area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub kind: CaseKind,
    /// Stations an alarm was dispatched to (every `dispatch` event, in any order).
    #[serde(default)]
    pub dispatched_to: Vec<Id>,
    /// The highest line of defence a dispute reached (`mediate` or `escalate`), if any.
    #[serde(default)]
    pub dispute_level: Option<DefenceLevel>,
}

impl CaseFacts {
    /// The facts of a case of `kind` with these events (any order: the facts are a union).
    pub fn from_events<'a>(
        kind: CaseKind,
        events: impl IntoIterator<Item = &'a CaseEvent>,
    ) -> Self {
        let mut facts = CaseFacts {
            kind,
            dispatched_to: vec![],
            dispute_level: None,
        };
        for e in events {
            facts.absorb(&e.action);
        }
        facts
    }

    /// Adds what one event says.
    pub fn absorb(&mut self, action: &CaseAction) {
        match action {
            CaseAction::Dispatch { station_id } if !self.dispatched_to.contains(station_id) => {
                self.dispatched_to.push(*station_id);
                self.dispatched_to.sort();
            }
            CaseAction::Mediate { level } | CaseAction::Escalate { to: level, .. } => {
                self.dispute_level = self.dispute_level.max(Some(*level));
            }
            _ => {}
        }
    }
}

/// The stations the alarms among `cases` (the facts of the cases in one building) were
/// dispatched to, sorted and without repeats: the building's [`Place::responders`]. Other kinds
/// of case bring no crew.
///
/// ```
/// use gridwork_domain::model::CaseKind;
/// use gridwork_domain::scope::{CaseFacts, responders};
/// use uuid::Uuid;
///
/// let (near, far) = (Uuid::from_u128(1), Uuid::from_u128(2));
/// let mut alarm = CaseFacts::from_events(CaseKind::Alarm, []);
/// alarm.dispatched_to = vec![near, far];
/// let hazard = CaseFacts::from_events(CaseKind::Hazard, []);
/// let mut again = CaseFacts::from_events(CaseKind::Alarm, []);
/// again.dispatched_to = vec![far];
/// let mut both = vec![near, far];
/// both.sort();
/// assert_eq!(responders([&alarm, &hazard, &again]), both);
/// ```
pub fn responders<'a>(cases: impl IntoIterator<Item = &'a CaseFacts>) -> Vec<Id> {
    let mut stations: Vec<Id> = cases
        .into_iter()
        .filter(|c| c.kind == CaseKind::Alarm)
        .flat_map(|c| c.dispatched_to.iter().copied())
        .collect();
    stations.sort();
    stations.dedup();
    stations
}

/// Where a record sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub kind: EntityKind,
    pub id: Id,
    /// Area ids from the district down to the record's area (for an area: itself last). Empty
    /// while a link on the way is unknown.
    #[serde(default)]
    pub areas: Vec<Id>,
    /// The building the record belongs to (a building: itself).
    #[serde(default)]
    pub building: Option<Id>,
    /// The micro fire station assigned to that building (a station: itself).
    #[serde(default)]
    pub station: Option<Id>,
    /// For a case, what its kind and events say.
    #[serde(default)]
    pub case: Option<CaseFacts>,
    /// For a building: the stations the alarms in it were dispatched to ([`responders`]). Their
    /// crews see the building itself (not its households): dispatch may fall back to the
    /// nearest station, or a dispatcher send another, and the crew must find the building.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<Id>,
}

impl Place {
    /// A place that knows only the record (nothing resolved yet).
    pub fn unresolved(kind: EntityKind, id: Id) -> Place {
        Place {
            kind,
            id,
            areas: vec![],
            building: None,
            station: None,
            case: None,
            responders: vec![],
        }
    }

    /// Whether the area path is known.
    pub fn is_resolved(&self) -> bool {
        !self.areas.is_empty()
    }

    /// Whether `area` is on the record's path (the record is in that area or is it).
    pub fn is_under(&self, area: Id) -> bool {
        self.areas.contains(&area)
    }

    /// Parses a scope key (`/<district>/.../<area>`) into area ids; `None` when malformed.
    pub fn areas_from_key(key: &str) -> Option<Vec<Id>> {
        key.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok())
            .collect()
    }
}
