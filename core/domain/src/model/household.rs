//! Households, the residents in them, and tenant registrations (流动人口登记).

use serde::{Deserialize, Serialize};

use crate::ids::Id;

/// How a household's room or unit is occupied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdKind {
    OwnerOccupied,
    Rental,
    /// 群租: a flat split into many rented beds, a hazard in itself.
    GroupRental,
    Vacant,
}

impl HouseholdKind {
    pub const ALL: [HouseholdKind; 4] = [
        HouseholdKind::OwnerOccupied,
        HouseholdKind::Rental,
        HouseholdKind::GroupRental,
        HouseholdKind::Vacant,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HouseholdKind::OwnerOccupied => "owner_occupied",
            HouseholdKind::Rental => "rental",
            HouseholdKind::GroupRental => "group_rental",
            HouseholdKind::Vacant => "vacant",
        }
    }

    /// Parses [`HouseholdKind::as_str`].
    pub fn parse(s: &str) -> Option<HouseholdKind> {
        HouseholdKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A rented room (for the registration rate).
    pub fn is_rental(self) -> bool {
        matches!(self, HouseholdKind::Rental | HouseholdKind::GroupRental)
    }
}

/// A household: one room or unit of a building.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: Id,
    pub building_id: Id,
    /// Room or unit, e.g. "2-301".
    pub unit: String,
    pub kind: HouseholdKind,
    /// Contact phone of the household.
    pub phone: Option<String>,
    /// Archived when the household moves out: a field, not a delete.
    pub archived: bool,
}

/// A key group (一老一小) a resident belongs to; such residents get regular visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyGroup {
    /// 独居老人
    ElderlyLivingAlone,
    /// 留守儿童
    LeftBehindChild,
    /// Disabled resident needing visits.
    Disabled,
}

impl KeyGroup {
    pub const ALL: [KeyGroup; 3] = [
        KeyGroup::ElderlyLivingAlone,
        KeyGroup::LeftBehindChild,
        KeyGroup::Disabled,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyGroup::ElderlyLivingAlone => "elderly_living_alone",
            KeyGroup::LeftBehindChild => "left_behind_child",
            KeyGroup::Disabled => "disabled",
        }
    }

    /// Parses [`KeyGroup::as_str`].
    pub fn parse(s: &str) -> Option<KeyGroup> {
        KeyGroup::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A person living in a household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resident {
    pub id: Id,
    pub household_id: Id,
    pub name: String,
    /// The 18-digit resident ID number, stored whole; shown masked in every list.
    /// `None` where the role may not hold it (a fire crew) or it is not known.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub key_groups: Vec<KeyGroup>,
    /// Milliseconds since the epoch of the last key-group visit, if any.
    pub last_visit_ms: Option<u64>,
    pub archived: bool,
}

/// A tenant's stay: hotel-style check-in (旅店式登记) and check-out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub id: Id,
    pub resident_id: Id,
    pub household_id: Id,
    /// Day of check-in, `YYYY-MM-DD`.
    pub check_in: chrono::NaiveDate,
    /// The stay's expected last day.
    pub expected_end: Option<chrono::NaiveDate>,
    /// Set at check-out.
    pub check_out: Option<chrono::NaiveDate>,
}

impl Registration {
    /// Still living there (not checked out).
    pub fn is_active(&self) -> bool {
        self.check_out.is_none()
    }
}
