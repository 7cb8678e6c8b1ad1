//! Patrols (巡查) on the phone: the gridworker starts a patrol of their grid, checks in at
//! buildings (time, position, a note), reports what they find as cases linked to the patrol, and
//! ends it; the summary shows the visits and findings.
//!
//! A visit to a building outside the patrol's area is accepted: a gridworker who crosses into
//! the neighbouring grid to look at a smoking balcony has still made the visit. Findings may be
//! reported after the patrol has ended (written up on the way back), but visits may not: a
//! check-in is a claim to be there now.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Building, Case, CaseKind, Patrol, PatrolVisit, Severity};
use gridwork_domain::op::{EntityKind, FieldWrite};
use gridwork_domain::validate::{Position, ValidationError};
use serde::Serialize;

use crate::cases::CaseView;
use crate::error::Result;
use crate::gridwork::create_op;
use crate::gridwork::{Gridwork, live_state, set_op};
use crate::new_id;
use crate::store::area_records::{self, CaseFilter};
use crate::store::records;
use crate::workflows::new_record::referenced;
use gridwork_domain::workflow::patrol_chain::{self, ChainVerdict};

/// The live visits of a patrol, in chain order (time, then id).
pub(crate) fn visits_of(conn: &rusqlite::Connection, patrol_id: Id) -> Result<Vec<PatrolVisit>> {
    let mut visits: Vec<PatrolVisit> = area_records::decode_rows(
        conn,
        "SELECT id, fields FROM records WHERE kind = 'patrol_visit' AND tombstone IS NULL
         AND parent = ?1",
        &[patrol_id.to_string()],
    )?;
    patrol_chain::chain_order(&mut visits);
    Ok(visits)
}

/// The last link of `visits` (in chain order) after the patrol's first.
fn head(patrol: &Patrol, visits: &[PatrolVisit]) -> String {
    visits
        .iter()
        .fold(patrol_chain::genesis(patrol), |prev, v| {
            patrol_chain::link(&prev, v)
        })
}

/// A patrol with what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatrolSummary {
    pub patrol: Patrol,
    /// Check-ins, in time order.
    pub visits: Vec<PatrolVisit>,
    /// How many different buildings were visited.
    pub buildings_visited: usize,
    /// Cases reported on the patrol, oldest first.
    pub findings: Vec<CaseView>,
    /// From start to end; `None` while the patrol is under way.
    pub duration_ms: Option<u64>,
}

impl Gridwork {
    /// Starts a patrol of an area (usually the user's grid) now. The device must have a user
    /// ([`Gridwork::set_user_id`]): a patrol is someone's.
    pub fn start_patrol(&self, area_id: Id) -> Result<Patrol> {
        let user_id = self.user_id()?.ok_or_else(|| {
            ValidationError::new(
                "patrol.user_id",
                "this device has no user yet: enroll it before patrolling",
            )
        })?;
        let now = self.now_ms();
        self.commit_local(|tx, stamp| {
            referenced(tx, "patrol.area_id", EntityKind::Area, area_id)?;
            let mut patrol = Patrol {
                id: uuid::Uuid::nil(),
                user_id,
                area_id,
                started_at_ms: now,
                ended_at_ms: None,
                chain_head: None,
            };
            let op = create_op(stamp, &mut patrol)?;
            Ok((vec![op], patrol))
        })
    }

    /// Checks in at a building on a patrol under way, now, with where the phone was and an
    /// optional note ("消防通道堆放杂物").
    pub fn visit_building(
        &self,
        patrol_id: Id,
        building_id: Id,
        position: Option<Position>,
        note: Option<&str>,
    ) -> Result<PatrolVisit> {
        let now = self.now_ms();
        self.commit_local(|tx, stamp| {
            let patrol: Patrol = live_state(tx, EntityKind::Patrol, patrol_id)?.decode()?;
            if patrol.ended_at_ms.is_some() {
                return Err(ValidationError::new(
                    "patrol_visit.patrol_id",
                    "the patrol has ended: start a new one to check in",
                )
                .into());
            }
            referenced(
                tx,
                "patrol_visit.building_id",
                EntityKind::Building,
                building_id,
            )?;
            // Chained after the visits before it (ADR 0025): never before the last one, even
            // when the phone's clock was corrected backwards meanwhile.
            let before = visits_of(tx, patrol_id)?;
            let at_ms = before.last().map_or(now, |last| now.max(last.at_ms));
            let mut visit = PatrolVisit {
                id: new_id(),
                patrol_id,
                building_id,
                at_ms,
                position,
                note: note
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from),
                chain: None,
            };
            visit.chain = Some(patrol_chain::link(&head(&patrol, &before), &visit));
            let op = create_op(stamp, &mut visit)?;
            Ok((vec![op], visit))
        })
    }

    /// Ends a patrol now. Refused (`patrol.ended_at_ms`) when it has already ended.
    pub fn end_patrol(&self, patrol_id: Id) -> Result<Patrol> {
        let now = self.now_ms();
        self.commit_local(|tx, stamp| {
            let state = live_state(tx, EntityKind::Patrol, patrol_id)?;
            let mut patrol: Patrol = state.decode()?;
            if patrol.ended_at_ms.is_some() {
                return Err(ValidationError::new(
                    "patrol.ended_at_ms",
                    "the patrol has already ended",
                )
                .into());
            }
            // A phone whose clock was corrected backwards mid-patrol must not end it before it
            // started.
            patrol.ended_at_ms = Some(now.max(patrol.started_at_ms));
            // The chain is sealed with the end, in the same operation.
            patrol.chain_head = Some(head(&patrol, &visits_of(tx, patrol_id)?));
            let mut fields = std::collections::BTreeMap::new();
            for (field, value) in [
                ("ended_at_ms", serde_json::to_value(patrol.ended_at_ms)?),
                ("chain_head", serde_json::to_value(&patrol.chain_head)?),
            ] {
                let write = FieldWrite {
                    value,
                    base: records::field_stamp(&state, field),
                };
                fields.insert(field.to_string(), write);
            }
            let op = set_op(stamp, EntityKind::Patrol, patrol_id, fields);
            Ok((vec![op], patrol))
        })
    }

    /// Reports something found on a patrol at a building, as a case linked to the patrol
    /// (`case.patrol_id`) in the building's grid at the building's position. `kind` is
    /// [`CaseKind::Hazard`] (隐患) or [`CaseKind::PatrolFinding`]; other kinds are refused
    /// (`case.kind`): disputes and alarms are opened on their own.
    pub fn report_finding(
        &self,
        patrol_id: Id,
        building_id: Id,
        kind: CaseKind,
        title: &str,
        category: &str,
        severity: Severity,
    ) -> Result<CaseView> {
        if !matches!(kind, CaseKind::Hazard | CaseKind::PatrolFinding) {
            return Err(ValidationError::new(
                "case.kind",
                "a patrol reports a hazard or a patrol finding; open disputes and alarms on their own",
            )
            .into());
        }
        self.get::<Patrol>(patrol_id)?;
        let building: Building = self.get(building_id)?;
        self.open_case(Case {
            id: uuid::Uuid::nil(),
            kind,
            title: title.to_string(),
            category: category.to_string(),
            severity,
            area_id: building.grid_id,
            building_id: Some(building.id),
            household_id: None,
            position: building.position,
            opened_at_ms: 0,
            patrol_id: Some(patrol_id),
        })
    }

    /// Whether a patrol's visits still form the chain they were made as
    /// ([`patrol_chain::verify`]).
    pub fn verify_patrol(&self, patrol_id: Id) -> Result<ChainVerdict> {
        self.query(|conn| {
            let patrol: Patrol = live_state(conn, EntityKind::Patrol, patrol_id)?.decode()?;
            Ok(patrol_chain::verify(&patrol, &visits_of(conn, patrol_id)?))
        })
    }

    /// A patrol with its visits and findings.
    pub fn patrol_summary(&self, patrol_id: Id) -> Result<PatrolSummary> {
        let policy = self.deadline_policy();
        let now = self.now_ms();
        self.query(|conn| {
            let patrol: Patrol = live_state(conn, EntityKind::Patrol, patrol_id)?.decode()?;
            let visits = visits_of(conn, patrol_id)?;
            let mut buildings: Vec<Id> = visits.iter().map(|v| v.building_id).collect();
            buildings.sort();
            buildings.dedup();
            // No index on a case's patrol yet: this scans the device's cases, cheap at a grid's
            // scale (a `cases_by_patrol` index would make it a lookup).
            let mut findings: Vec<CaseView> =
                area_records::cases(conn, None, CaseFilter::Patrol(patrol_id))?
                    .into_iter()
                    .map(|(case, fold)| CaseView::build(case, fold, &policy, now))
                    .collect();
            findings.sort_by_key(|v| (v.case.opened_at_ms, v.case.id));
            Ok(PatrolSummary {
                duration_ms: patrol
                    .ended_at_ms
                    .map(|end| end.saturating_sub(patrol.started_at_ms)),
                patrol,
                visits,
                buildings_visited: buildings.len(),
                findings,
            })
        })
    }
}
