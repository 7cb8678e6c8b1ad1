//! What a gridworker looks up on patrol: the buildings of an area, the households of a
//! building, the residents of a household (ID numbers masked), a resident's registrations, the
//! open cases of an area most urgent first, and search over names, addresses, phones and case
//! titles that finds Chinese substrings.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, Building, Case, Household, KeyGroup, Registration, Resident};
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::hidden_fields;
use gridwork_domain::sync::Role;
use gridwork_domain::validate::resident_id;
use gridwork_domain::workflow::CaseFold;
use serde::Serialize;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records::{SUBTREE, decode_fields, decode_rows};
use crate::store::{meta, records};

/// A resident as every list shows them: the ID number masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResidentSummary {
    pub id: Id,
    pub household_id: Id,
    pub name: String,
    /// e.g. `3301**********123X`; never the whole number.
    pub id_number_masked: Option<String>,
    pub phone: Option<String>,
    pub key_groups: Vec<KeyGroup>,
    pub archived: bool,
}

impl From<Resident> for ResidentSummary {
    fn from(r: Resident) -> Self {
        ResidentSummary {
            id: r.id,
            household_id: r.household_id,
            name: r.name,
            id_number_masked: r.id_number.as_deref().map(resident_id::mask),
            phone: r.phone,
            key_groups: r.key_groups,
            archived: r.archived,
        }
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub kind: EntityKind,
    pub id: Id,
    /// The indexed text of the record (names, address, unit, phone, title; never ID numbers).
    pub text: String,
}

/// The most search hits returned.
pub const MAX_SEARCH_HITS: usize = 200;

impl Gridwork {
    /// Areas directly below an area (the districts when `parent` is `None`).
    pub fn child_areas(&self, parent: Option<Id>) -> Result<Vec<Area>> {
        self.query(|conn| match parent {
            Some(p) => decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
                 AND parent = ?1 ORDER BY json_extract(fields, '$.code')",
                &[p.to_string()],
            ),
            None => decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
                 AND parent IS NULL ORDER BY json_extract(fields, '$.code')",
                &[],
            ),
        })
    }

    /// The building with this unified address code (统一地址编码), if this device holds it.
    /// The code is how offices and other systems name a building; the id is ours.
    pub fn building_by_address_code(&self, code: &str) -> Result<Option<Building>> {
        let code = code.trim().to_string();
        self.query(|conn| {
            let found: Vec<Building> = decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'building' AND tombstone IS NULL
                 AND json_extract(fields, '$.address_code') = ?1",
                &[code],
            )?;
            Ok(found.into_iter().next())
        })
    }

    /// Every micro fire station this device holds, by name.
    pub fn stations(&self) -> Result<Vec<gridwork_domain::model::Station>> {
        self.query(|conn| {
            let mut all = crate::store::area_records::stations(conn)?;
            all.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(all)
        })
    }

    /// The area with this code (`330105012001001`), if this device holds it.
    pub fn area_by_code(&self, code: &str) -> Result<Option<Area>> {
        let code = code.trim().to_string();
        self.query(|conn| {
            let found: Vec<Area> = decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
                 AND json_extract(fields, '$.code') = ?1",
                &[code],
            )?;
            Ok(found.into_iter().next())
        })
    }

    /// Every building in an area of any level (a grid, a community, a whole subdistrict),
    /// ordered by address code.
    pub fn buildings_in_area(&self, area_id: Id) -> Result<Vec<Building>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            decode_rows(
                conn,
                &format!(
                    "{SUBTREE}
                     SELECT id, fields FROM records WHERE kind = 'building' AND tombstone IS NULL
                     AND (parent IN subtree
                          OR json_extract(fields, '$.micro_grid_id') IN subtree)
                     ORDER BY json_extract(fields, '$.address_code')"
                ),
                &[area_id.to_string()],
            )
        })
    }

    /// The households of a building by unit; archived ones only when asked for.
    pub fn households_of_building(
        &self,
        building_id: Id,
        include_archived: bool,
    ) -> Result<Vec<Household>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Building, building_id)?;
            let all: Vec<Household> = decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'household' AND tombstone IS NULL
                 AND parent = ?1 ORDER BY json_extract(fields, '$.unit')",
                &[building_id.to_string()],
            )?;
            Ok(all
                .into_iter()
                .filter(|h| include_archived || !h.archived)
                .collect())
        })
    }

    /// The residents of a household, ID numbers masked.
    pub fn residents_of_household(&self, household_id: Id) -> Result<Vec<ResidentSummary>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Household, household_id)?;
            let all: Vec<Resident> = decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'resident' AND tombstone IS NULL
                 AND parent = ?1 ORDER BY json_extract(fields, '$.name')",
                &[household_id.to_string()],
            )?;
            Ok(all.into_iter().map(ResidentSummary::from).collect())
        })
    }

    /// The role of the user this device acts for, once enrolled.
    pub fn role(&self) -> Result<Option<Role>> {
        self.query(|c| Ok(meta::get(c, meta::ROLE)?.and_then(|r| Role::parse(&r))))
    }

    /// One resident as the single-record view shows them: the whole ID number when this
    /// device's role may hold ID numbers (or the device is not enrolled, so everything in it
    /// was typed here), masked otherwise. Lists never show it: see
    /// [`Gridwork::residents_of_household`].
    pub fn resident_for_view(&self, resident_id: Id) -> Result<Resident> {
        let mut r: Resident = self.get(resident_id)?;
        let hidden = self
            .role()?
            .is_some_and(|role| hidden_fields(role, EntityKind::Resident).contains(&"id_number"));
        if hidden {
            r.id_number = r.id_number.as_deref().map(resident_id::mask);
        } else if r.id_number.is_some() {
            // The whole number is on the screen: the server's audit log will know who saw whose.
            let now = self.now_ms();
            self.read(|c| {
                crate::access_log::record(
                    c,
                    now,
                    "read_id_number",
                    Some(("resident", resident_id)),
                    "resident view",
                )
            })?;
        }
        Ok(r)
    }

    /// A resident's stays, newest check-in first.
    pub fn registrations_of_resident(&self, resident_id: Id) -> Result<Vec<Registration>> {
        self.query(|conn| {
            live_state(conn, EntityKind::Resident, resident_id)?;
            decode_rows(
                conn,
                "SELECT id, fields FROM records WHERE kind = 'registration' AND tombstone IS NULL
                 AND parent = ?1
                 ORDER BY json_extract(fields, '$.check_in') DESC",
                &[resident_id.to_string()],
            )
        })
    }

    /// The open cases of an area (and the areas below it), most urgent first: live fire
    /// alarms, then incidents nobody has reached, then red (most overdue first), yellow, green
    /// by due time, then cases with no running deadline; each timed by its subdistrict's
    /// response policy.
    pub fn open_cases_in_area(&self, area_id: Id) -> Result<Vec<CaseView>> {
        let base = self.deadline_policy();
        let now = self.now_ms();
        self.query(|conn| {
            live_state(conn, EntityKind::Area, area_id)?;
            let mut stmt = conn.prepare_cached(&format!(
                "{SUBTREE}
                 SELECT r.id, r.fields, f.fold FROM records r
                 LEFT JOIN case_folds f ON f.case_id = r.id
                 WHERE r.kind = 'case' AND r.tombstone IS NULL AND f.closed IS NOT 1
                 AND r.parent IN subtree"
            ))?;
            let rows = stmt.query_map([area_id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            let mut cases = Vec::new();
            for row in rows {
                let (id, fields, fold) = row?;
                if let Some(case) = decode_fields::<Case>(id, &fields)? {
                    let fold: CaseFold = records::fold_or_initial(&case, fold.as_deref())?;
                    cases.push((case, fold));
                }
            }
            crate::cases::views_of(conn, base, cases, now)
        })
    }

    /// Searches names, addresses, units, phones and case titles. Works for Chinese substrings:
    /// three characters or more use the trigram index; one or two characters (a two-character
    /// name such as 王芳) scan the same table with LIKE.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let q = query.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, MAX_SEARCH_HITS) as i64;
        // Records written since the last search are re-indexed first (ADR 0018), unless the
        // writer is busy (a sync page): then the search runs at once on the index as it is, and
        // a later search (or the end of the sync) catches up. Should catching up fail (a full
        // disk), the search still runs rather than failing.
        if let Some(Err(e)) = self.try_read(crate::store::search_index::catch_up_now) {
            tracing::warn!(error = %e, "search index not brought up to date");
        }
        self.query(|conn| {
            let rows: Vec<(String, String, String)> = if q.chars().count() >= 3 {
                // Quote as one FTS5 string so operators in user input mean nothing.
                let phrase = format!("\"{}\"", q.replace('"', "\"\""));
                let mut stmt = conn.prepare_cached(
                    "SELECT kind, record_id, text FROM search WHERE text MATCH ?1
                     ORDER BY rank LIMIT ?2",
                )?;
                stmt.query_map(rusqlite::params![phrase, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?
            } else {
                let escaped = q
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let mut stmt = conn.prepare_cached(
                    "SELECT kind, record_id, text FROM search WHERE text LIKE ?1 ESCAPE '\\'
                     LIMIT ?2",
                )?;
                stmt.query_map(rusqlite::params![format!("%{escaped}%"), limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?
            };
            Ok(rows
                .into_iter()
                .filter_map(|(kind, id, text)| {
                    Some(SearchHit {
                        kind: EntityKind::parse(&kind)?,
                        id: id.parse().ok()?,
                        text,
                    })
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use gridwork_domain::validate::resident_id;

    use crate::seed::{SeedSize, seed_subdistrict};
    use crate::store::meta;
    use crate::{Gridwork, OpenOptions};

    #[test]
    fn the_single_record_view_shows_the_whole_id_number_only_to_roles_that_may_hold_it() {
        let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let seeded = seed_subdistrict(&gw, 3, SeedSize::TINY, |_, _| {}).unwrap();
        let r = seeded
            .residents
            .iter()
            .find(|r| r.id_number.is_some())
            .unwrap();
        let whole = r.id_number.clone().unwrap();
        let listed = gw.residents_of_household(r.household_id).unwrap();
        let mine = listed.iter().find(|s| s.id == r.id).unwrap();
        assert_eq!(
            mine.id_number_masked.as_deref(),
            Some(resident_id::mask(&whole).as_str())
        );
        for (role, shown) in [
            ("gridworker", whole.clone()),
            ("building_head", whole.clone()),
            ("fire_crew", resident_id::mask(&whole)),
        ] {
            gw.read(|c| meta::set(c, meta::ROLE, role)).unwrap();
            let view = gw.resident_for_view(r.id).unwrap();
            assert_eq!(view.id_number.as_deref(), Some(shown.as_str()), "{role}");
        }
    }
}
