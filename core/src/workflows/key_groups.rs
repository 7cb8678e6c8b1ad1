//! Key groups (一老一小) on the phone: recording a visit to an elderly resident living alone, a
//! left-behind child or a disabled resident, and listing who is overdue for one.
//!
//! A visit is kept as the resident's `last_visit_ms` (the model has no visit log): enough to say
//! who is due, not to count visits. See ADR 0008.
//!
//! The visit intervals ([`KeyGroupPolicy`]) are a device setting kept in the store's metadata,
//! like the deadline policy, so they survive a restart; the default is the domain's (7 days for
//! the elderly living alone, 14 for the others).

use std::collections::HashMap;

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Building, Household, Resident};
use gridwork_domain::op::EntityKind;
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::{self, KeyGroupPolicy, VisitDue};
use serde::Serialize;

use crate::error::Result;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records;
use crate::store::meta;

/// The metadata key of the key-group policy.
const KEY_GROUP_POLICY: &str = "key_group_policy";

/// A key-group resident overdue for a visit, with where to find them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverdueVisit {
    /// When the visit was due and how late it is.
    pub due: VisitDue,
    pub name: String,
    pub household_id: Id,
    /// The room, e.g. "2-301".
    pub unit: String,
    pub address: String,
}

impl Gridwork {
    /// The visit intervals used by [`Gridwork::overdue_visits`] and the weekly brief.
    pub fn key_group_policy(&self) -> Result<KeyGroupPolicy> {
        self.query(|conn| {
            Ok(match meta::get(conn, KEY_GROUP_POLICY)? {
                Some(json) => serde_json::from_str(&json)?,
                None => KeyGroupPolicy::default(),
            })
        })
    }

    /// Replaces the visit intervals (kept in the store). Every interval must be at least a day.
    pub fn set_key_group_policy(&self, policy: KeyGroupPolicy) -> Result<()> {
        let days = [
            (
                "elderly_living_alone_days",
                policy.elderly_living_alone_days,
            ),
            ("left_behind_child_days", policy.left_behind_child_days),
            ("disabled_days", policy.disabled_days),
        ];
        if let Some((field, _)) = days.iter().find(|(_, d)| *d == 0) {
            return Err(ValidationError::new(
                format!("key_group_policy.{field}"),
                "a visit interval must be at least one day",
            )
            .into());
        }
        let json = serde_json::to_string(&policy)?;
        self.read(|conn| meta::set(conn, KEY_GROUP_POLICY, &json))
    }

    /// Records a key-group visit to a resident now (their `last_visit_ms`). Refused
    /// (`resident.key_groups`) for a resident in no key group, and (`resident.archived`) for
    /// one who moved out.
    pub fn record_key_group_visit(&self, resident_id: Id) -> Result<Resident> {
        let resident: Resident = self.get(resident_id)?;
        if resident.key_groups.is_empty() {
            return Err(ValidationError::new(
                "resident.key_groups",
                "the resident is in no key group; add the group before recording a visit",
            )
            .into());
        }
        if resident.archived {
            return Err(
                ValidationError::new("resident.archived", "the resident has moved out").into(),
            );
        }
        let now = self.now_ms();
        // Never move the last visit backwards: a visit synced from a colleague's phone may be
        // newer than this phone's corrected now.
        self.update::<Resident>(resident_id, |r| {
            r.last_visit_ms = Some(r.last_visit_ms.map_or(now, |last| last.max(now)));
        })
    }

    /// The key-group residents of an area overdue for a visit now, by
    /// [`Gridwork::key_group_policy`]: never visited first, then the most overdue.
    pub fn overdue_visits(&self, area_id: Id) -> Result<Vec<OverdueVisit>> {
        let policy = self.key_group_policy()?;
        let now = self.now_ms();
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let residents: HashMap<Id, Resident> =
                area_records::by_id(area_records::residents(conn, area_id)?);
            let households: HashMap<Id, Household> =
                area_records::by_id(area_records::households(conn, area_id)?);
            let buildings: HashMap<Id, Building> =
                area_records::by_id(area_records::buildings(conn, area_id)?);
            let listed: Vec<Resident> = residents.values().cloned().collect();
            Ok(workflow::overdue_visits(&listed, &policy, now)
                .into_iter()
                .filter_map(|due| {
                    let r = residents.get(&due.resident_id)?;
                    let h = households.get(&r.household_id);
                    let b = h.and_then(|h| buildings.get(&h.building_id));
                    Some(OverdueVisit {
                        due,
                        name: r.name.clone(),
                        household_id: r.household_id,
                        unit: h.map(|h| h.unit.clone()).unwrap_or_default(),
                        address: b.map(|b| b.address.clone()).unwrap_or_default(),
                    })
                })
                .collect())
        })
    }
}
