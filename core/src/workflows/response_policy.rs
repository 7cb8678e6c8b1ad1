//! Response policies (响应时限) on the phone: the subdistrict's policy is a field of its area
//! record, set by an admin and synced to every phone below it like any area; each phone times
//! the alarms and incidents of a subdistrict by the policy in force when each was opened
//! ([`gridwork_domain::workflow::response_policy`], ADR 0021).
//!
//! Which subdistrict a case belongs to is read off the codes, which nest (ADR 0004): the
//! case's building's address code, or its area's code, starts with its subdistrict's code. A
//! phone that holds neither (a fire crew holds the alarm's building only when the server sent
//! it) falls back to its only subdistrict, and a phone with several to the device's default.

use std::collections::HashMap;

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Building, Case};
use gridwork_domain::op::EntityKind;
use gridwork_domain::validate::ValidationError;
use gridwork_domain::workflow::{DeadlinePolicy, ResponsePolicy, in_force_at, with_policy};
use rusqlite::Connection;

use crate::error::Result;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records::decode_rows;
use crate::store::records;

/// The subdistricts held on the device with their policies, and the device's default figures:
/// what every list of cases times its cases by. Made once per read; the code of each area or
/// building is looked up once.
pub(crate) struct PolicyBook {
    base: DeadlinePolicy,
    /// (code, policies) of every subdistrict on the device.
    subdistricts: Vec<(String, Vec<ResponsePolicy>)>,
    /// The code of each area or building looked at (`None` when not on the device).
    codes: HashMap<Id, Option<String>>,
}

impl PolicyBook {
    pub(crate) fn load(conn: &Connection, base: DeadlinePolicy) -> Result<PolicyBook> {
        // Through `areas_by_level` (migration 008): the subdistricts' rows only, not every
        // area's parsed (ADR 0054).
        let subdistricts: Vec<Area> = decode_rows(conn, SUBDISTRICTS, &[])?;
        Ok(PolicyBook {
            base,
            subdistricts: subdistricts
                .into_iter()
                .map(|a| (a.code, a.response_policies))
                .collect(),
            codes: HashMap::new(),
        })
    }

    /// The figures that time `case`: the device's, with the response policies of the case's
    /// subdistrict.
    pub(crate) fn for_case(&mut self, conn: &Connection, case: &Case) -> Result<DeadlinePolicy> {
        let mut code = None;
        if let Some(building) = case.building_id {
            code = self.code_of(conn, building)?;
        }
        if code.is_none() {
            code = self.code_of(conn, case.area_id)?;
        }
        Ok(self.with(self.policies_for(code.as_deref())))
    }

    /// The figures for the subdistrict of `area_id` (any level below a subdistrict, or the
    /// subdistrict itself).
    pub(crate) fn for_area(&mut self, conn: &Connection, area_id: Id) -> Result<DeadlinePolicy> {
        let code = self.code_of(conn, area_id)?;
        Ok(self.with(self.policies_for(code.as_deref())))
    }

    fn with(&self, responses: Option<Vec<ResponsePolicy>>) -> DeadlinePolicy {
        let mut policy = self.base.clone();
        if let Some(responses) = responses {
            policy.responses = responses;
        }
        policy
    }

    /// The policies of the subdistrict whose code starts `code`; else those of the device's
    /// only subdistrict; else `None` (the device's default stands).
    fn policies_for(&self, code: Option<&str>) -> Option<Vec<ResponsePolicy>> {
        let found = code.and_then(|code| {
            self.subdistricts
                .iter()
                .find(|(sub, _)| code.starts_with(sub.as_str()))
        });
        match (found, self.subdistricts.as_slice()) {
            (Some((_, policies)), _) => Some(policies.clone()),
            (None, [(_, only)]) => Some(only.clone()),
            _ => None,
        }
    }

    fn code_of(&mut self, conn: &Connection, id: Id) -> Result<Option<String>> {
        if let Some(code) = self.codes.get(&id) {
            return Ok(code.clone());
        }
        let code = match records::load(conn, id)? {
            Some(state) if !state.is_deleted() => match state.kind {
                EntityKind::Area => state.decode::<Area>().ok().map(|a| a.code),
                EntityKind::Building => state.decode::<Building>().ok().map(|b| b.address_code),
                _ => None,
            },
            _ => None,
        };
        self.codes.insert(id, code.clone());
        Ok(code)
    }
}

impl Gridwork {
    /// The response policies of a subdistrict (oldest first, each with the moment it took
    /// effect); empty when none was ever set (1-3-10 applies).
    pub fn response_policies(&self, subdistrict_id: Id) -> Result<Vec<ResponsePolicy>> {
        let area: Area = self.get(subdistrict_id)?;
        Ok(area.response_policies)
    }

    /// The response policy in force now in the subdistrict of `area_id` (any area under a
    /// subdistrict, or the subdistrict).
    pub fn response_policy_in_force(&self, area_id: Id) -> Result<ResponsePolicy> {
        let now = self.now_ms();
        let policy = self.deadline_policy_for_area(area_id)?;
        Ok(in_force_at(&policy.responses, now))
    }

    /// The figures that time the cases of `area_id`'s subdistrict: the device's
    /// ([`Gridwork::deadline_policy`]) with the subdistrict's response policies.
    pub fn deadline_policy_for_area(&self, area_id: Id) -> Result<DeadlinePolicy> {
        let base = self.deadline_policy();
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            PolicyBook::load(conn, base)?.for_area(conn, area_id)
        })
    }

    /// Sets a subdistrict's response policy from now on (an admin's step: only an admin may
    /// change an area, and the server refuses anyone else's change). The policy is appended
    /// to the subdistrict's history, so alarms and incidents opened before keep theirs; it
    /// reaches every phone below the subdistrict with its next sync. Refused with a field
    /// (`area.response_policies`, `response_policy.*`) when the area is not a subdistrict or the
    /// minutes are out of order.
    pub fn set_response_policy(
        &self,
        subdistrict_id: Id,
        policy: ResponsePolicy,
    ) -> Result<Vec<ResponsePolicy>> {
        let area: Area = self.get(subdistrict_id)?;
        if area.level != AreaLevel::Subdistrict {
            return Err(ValidationError::new(
                "area.response_policies",
                "only a subdistrict sets a response policy",
            )
            .into());
        }
        let now = self.now_ms();
        // Checked here, so that appending inside the write cannot fail; appended to the
        // history as it stands in the write's own transaction.
        with_policy(&area.response_policies, policy.clone(), now)?;
        let area = self.update::<Area>(subdistrict_id, |a| {
            if let Ok(history) = with_policy(&a.response_policies, policy, now) {
                a.response_policies = history;
            }
        })?;
        Ok(area.response_policies)
    }
}

/// The subdistricts a device holds, found through the partial index over areas' levels.
const SUBDISTRICTS: &str = "SELECT id, fields FROM records
     WHERE kind = 'area' AND json_extract(fields, '$.level') = 'subdistrict'
     AND tombstone IS NULL";

#[cfg(test)]
mod tests {
    use super::SUBDISTRICTS;

    #[test]
    fn the_subdistricts_are_found_through_their_index_not_by_reading_every_area() {
        let conn = crate::store::open::open_in_memory().unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SUBDISTRICTS}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX areas_by_level")),
            "{plan:?}"
        );
    }
}
