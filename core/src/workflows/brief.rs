//! The weekly brief (周二例会 / 工作简报) from the device's records: the store fills the domain's
//! [`BriefInput`] for an area and a week, and [`workflow::weekly_brief()`] computes the figures,
//! which render as Markdown ([`WeeklyBrief::to_markdown`]) or JSON (serde).
//!
//! What the store puts in, per grid of the area:
//! - cases in the grid (or its micro-grids) opened by the week's end, each folded with
//!   [`workflow::fold_until`] at the week's last millisecond, so a case closed on the Tuesday
//!   of the meeting still counts as open at week end; cases already closed before the week
//!   began are left out (they change no figure);
//! - the households of the grid's buildings and the residents in them, as they are now (the
//!   store keeps no history of them);
//! - their registrations as at week end: stays that began after the week are left out, and a
//!   check-out after the week is not yet a check-out;
//! - the patrol visits at the grid's buildings.
//!
//! Cases filed against an area above grid level (a community, the subdistrict) belong to no
//! grid; when there are any they are given one extra row, "<area>（网格外）", so that the counts
//! by kind stay complete.
//!
//! Alarms and incidents are timed by the area's subdistrict's response policies (a brief of a
//! whole district with several subdistricts times them by the device's default). A brief made
//! before the week is over shows the figures as they stand when it is made.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, Patrol, PatrolVisit, Registration};
use gridwork_domain::op::EntityKind;
use gridwork_domain::workflow::{
    self, BriefInput, FoldedCase, GridFacts, WeeklyBrief, patrol_chain,
};
use rusqlite::Connection;

use crate::error::Result;
use crate::gridwork::{Gridwork, live_state};
use crate::store::area_records::{self, CaseFilter};
use crate::store::records;
use crate::workflows::response_policy::PolicyBook;

impl Gridwork {
    /// The Monday of the week the Tuesday meeting reviews today (by the device's corrected
    /// clock, local time): the Monday–Sunday week before this one.
    pub fn review_week(&self) -> NaiveDate {
        let offset = self.deadline_policy().utc_offset_minutes;
        let local = self.now_ms() as i64 + i64::from(offset) * 60_000;
        let today = chrono::DateTime::from_timestamp_millis(local)
            .map(|t| t.date_naive())
            .unwrap_or_default();
        workflow::weekly_brief::review_week(today)
    }

    /// The weekly brief of an area (a subdistrict, a community, a grid) for the seven days
    /// from `week_start` (local dates, both ends included: pass [`Gridwork::review_week`] for
    /// the Tuesday meeting's previous Monday–Sunday), from this device's records, with
    /// [`Gridwork::deadline_policy`], the area's subdistrict's response policies and
    /// [`Gridwork::key_group_policy`]. A week not over yet is shown as it stands now.
    ///
    /// ```no_run
    /// # fn brief(gw: &gridwork_core::Gridwork, subdistrict: uuid::Uuid) -> gridwork_core::Result<()> {
    /// let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
    /// let brief = gw.weekly_brief(subdistrict, monday)?;
    /// println!("{}", brief.to_markdown());
    /// let json = serde_json::to_string(&brief)?;
    /// # let _ = json; Ok(()) }
    /// ```
    pub fn weekly_brief(&self, area_id: Id, week_start: NaiveDate) -> Result<WeeklyBrief> {
        let base = self.deadline_policy();
        let key_groups = self.key_group_policy()?;
        let now = self.now_ms();
        let (input, deadlines) = self.query(|conn| {
            let area: Area = live_state(conn, EntityKind::Area, area_id)?.decode()?;
            let deadlines = PolicyBook::load(conn, base)?.for_area(conn, area_id)?;
            let week_end = week_start
                .checked_add_days(Days::new(6))
                .unwrap_or(NaiveDate::MAX);
            let mut input = BriefInput {
                area_name: area.name.clone(),
                week_start,
                week_end,
                grids: vec![],
                made_at_ms: Some(now),
            };
            let (from_ms, _) = input.window_ms(deadlines.utc_offset_minutes);
            let as_of = input.as_of_ms(deadlines.utc_offset_minutes);
            input.grids = grid_facts(conn, &area, from_ms, as_of, week_end)?;
            Ok((input, deadlines))
        })?;
        Ok(workflow::weekly_brief(&input, &deadlines, &key_groups)?)
    }
}

/// One [`GridFacts`] per grid of `area` (plus one for cases outside any grid, if there are any).
fn grid_facts(
    conn: &Connection,
    area: &Area,
    from_ms: u64,
    as_of: u64,
    week_end: NaiveDate,
) -> Result<Vec<GridFacts>> {
    let grids = area_records::grids_of(conn, area)?;
    let grid_ids: HashSet<Id> = grids.iter().map(|g| g.id).collect();
    let parents: HashMap<Id, Option<Id>> = area_records::areas(conn, area.id)?
        .into_iter()
        .map(|a| (a.id, a.parent_id))
        .collect();
    // The grid an area lies in: itself or the first grid above it, within the brief's area.
    let grid_of = |mut at: Id| -> Option<Id> {
        loop {
            if grid_ids.contains(&at) {
                return Some(at);
            }
            at = (*parents.get(&at)?)?;
        }
    };

    let mut cases: HashMap<Option<Id>, Vec<FoldedCase>> = HashMap::new();
    for (case, current) in area_records::cases(conn, Some(area.id), CaseFilter::OpenedBy(as_of))? {
        if current.closed_at_ms.is_some_and(|closed| closed < from_ms) {
            continue;
        }
        let events = records::case_events(conn, case.id)?;
        let fold = workflow::fold_until(case.kind, case.opened_at_ms, &events, as_of);
        cases
            .entry(grid_of(case.area_id))
            .or_default()
            .push(FoldedCase { case, fold });
    }

    let mut facts = Vec::with_capacity(grids.len() + 1);
    for grid in grids {
        let (patrol_visits, legacy_patrol_visits) =
            chained_visits(conn, area_records::patrol_visits(conn, grid.id)?)?;
        facts.push(GridFacts {
            legacy_patrol_visits,
            patrol_visits,
            cases: cases.remove(&Some(grid.id)).unwrap_or_default(),
            households: area_records::households(conn, grid.id)?,
            registrations: area_records::registrations(conn, grid.id)?
                .into_iter()
                .filter_map(|r| as_at(r, week_end))
                .collect(),
            residents: area_records::residents(conn, grid.id)?,
            grid_id: grid.id,
            grid_name: grid.name,
        });
    }
    if let Some(outside) = cases.remove(&None).filter(|c| !c.is_empty()) {
        facts.push(GridFacts {
            legacy_patrol_visits: vec![],
            grid_id: area.id,
            grid_name: format!("{}（网格外 outside any grid）", area.name),
            cases: outside,
            households: vec![],
            registrations: vec![],
            residents: vec![],
            patrol_visits: vec![],
        });
    }
    Ok(facts)
}

/// The visits of patrols whose chain verifies (ADR 0025), and apart from them the visits of
/// patrols made before visits were chained (no link anywhere, ADR 0030: counted as legacy,
/// never ranked). A visit removed, inserted or back-dated after the fact takes its whole patrol
/// out of the brief, and so does a patrol this device does not hold.
fn chained_visits(
    conn: &Connection,
    visits: Vec<PatrolVisit>,
) -> Result<(Vec<PatrolVisit>, Vec<PatrolVisit>)> {
    let mut verdicts: HashMap<Id, Option<bool>> = HashMap::new();
    let (mut kept, mut legacy) = (Vec::with_capacity(visits.len()), vec![]);
    for v in visits {
        let verdict = match verdicts.get(&v.patrol_id) {
            Some(verdict) => *verdict,
            None => {
                let verdict = match records::load(conn, v.patrol_id)? {
                    Some(state) if state.tombstone.is_none() => match state.decode::<Patrol>() {
                        Ok(patrol) => match patrol_chain::verify(
                            &patrol,
                            &crate::workflows::patrols::visits_of(conn, patrol.id)?,
                        ) {
                            patrol_chain::ChainVerdict::Intact => Some(true),
                            patrol_chain::ChainVerdict::Unchained => Some(false),
                            patrol_chain::ChainVerdict::Broken { .. } => None,
                        },
                        Err(_) => None,
                    },
                    _ => None,
                };
                verdicts.insert(v.patrol_id, verdict);
                verdict
            }
        };
        match verdict {
            Some(true) => kept.push(v),
            Some(false) => legacy.push(v),
            None => {}
        }
    }
    Ok((kept, legacy))
}

/// A stay as it stood at the end of `day`: `None` if it had not begun, and not yet checked out
/// if the check-out came later.
fn as_at(mut stay: Registration, day: NaiveDate) -> Option<Registration> {
    if stay.check_in > day {
        return None;
    }
    if stay.check_out.is_some_and(|out| out > day) {
        stay.check_out = None;
    }
    Some(stay)
}
