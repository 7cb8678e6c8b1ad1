//! Patrols, key-group visits and micro fire stations: the rest of a gridworker's day that the
//! app does (every workflow of the bindings has its command).

use gridwork_core::Gridwork;
use gridwork_domain::model::{CaseKind, Station};
use gridwork_domain::validate::Position;

use super::{CliError, CliResult, local_time};
use crate::args::{KeyGroupCmd, PatrolCmd, StationCmd};
use crate::output;

fn position(lat: Option<f64>, lon: Option<f64>) -> CliResult<Option<Position>> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(Some(
            Position::new("position", lat, lon).map_err(gridwork_core::Error::from)?,
        )),
        _ => Ok(None),
    }
}

pub fn patrol(gw: &Gridwork, cmd: PatrolCmd, json: bool) -> CliResult {
    match cmd {
        PatrolCmd::Start { area } => {
            let p = gw.start_patrol(area.id(gw)?)?;
            output::one(json, &p, |p| format!("patrol started: {}", p.id));
        }
        PatrolCmd::Visit {
            patrol,
            building,
            note,
            lat,
            lon,
        } => {
            let v = gw.visit_building(
                patrol,
                building.id(gw)?,
                position(lat, lon)?,
                note.as_deref(),
            )?;
            output::one(json, &v, |v| {
                format!(
                    "checked in at building {} at {}",
                    v.building_id,
                    local_time(v.at_ms)
                )
            });
        }
        PatrolCmd::Finding {
            patrol,
            building,
            title,
            kind,
            category,
            severity,
        } => {
            if !matches!(kind, CaseKind::Hazard | CaseKind::PatrolFinding) {
                return Err(CliError::Usage(
                    "--kind: a patrol reports a hazard (隐患) or a finding (巡查发现)".into(),
                ));
            }
            let v =
                gw.report_finding(patrol, building.id(gw)?, kind, &title, &category, severity)?;
            output::one(json, &v, |v| {
                format!("reported: {} {}", v.case.id, v.case.title)
            });
        }
        PatrolCmd::End { patrol } => {
            let p = gw.end_patrol(patrol)?;
            output::one(json, &p, |p| format!("patrol ended: {}", p.id));
        }
        PatrolCmd::Show { patrol } => {
            let s = gw.patrol_summary(patrol)?;
            output::one(json, &s, |s| {
                let mut out = format!(
                    "patrol {} from {}{}\nbuildings visited: {} ({} check-ins)\nfindings: {}",
                    s.patrol.id,
                    local_time(s.patrol.started_at_ms),
                    s.patrol
                        .ended_at_ms
                        .map(|e| format!(" to {}", local_time(e)))
                        .unwrap_or_else(|| " (under way)".into()),
                    s.buildings_visited,
                    s.visits.len(),
                    s.findings.len()
                );
                for f in &s.findings {
                    out.push_str(&format!(
                        "\n  {} {} · {}",
                        f.case.kind.as_str(),
                        f.case.title,
                        f.fold.state
                    ));
                }
                out
            });
        }
    }
    Ok(())
}

pub fn key_group(gw: &Gridwork, cmd: KeyGroupCmd, json: bool) -> CliResult {
    match cmd {
        KeyGroupCmd::Visit { resident } => {
            let r = gw.record_key_group_visit(resident)?;
            let summary = gridwork_core::ResidentSummary::from(r);
            output::one(json, &summary, |r| format!("visit recorded: {}", r.name));
        }
        KeyGroupCmd::Overdue { area } => {
            let list = gw.overdue_visits(area.id(gw)?)?;
            output::list(
                json,
                &list,
                &[
                    "resident",
                    "name",
                    "address",
                    "unit",
                    "last visit",
                    "days late",
                ],
                |v| {
                    vec![
                        v.due.resident_id.to_string(),
                        v.name.clone(),
                        v.address.clone(),
                        v.unit.clone(),
                        v.due
                            .last_visit_ms
                            .map(local_time)
                            .unwrap_or_else(|| "never".into()),
                        if v.due.last_visit_ms.is_none() {
                            "—".into()
                        } else {
                            (v.due.overdue_by_ms / 86_400_000).to_string()
                        },
                    ]
                },
            );
        }
    }
    Ok(())
}

pub fn station(gw: &Gridwork, cmd: StationCmd, json: bool) -> CliResult {
    match cmd {
        StationCmd::List => {
            let mut list: Vec<Station> = gw.stations()?;
            list.sort_by(|a, b| a.name.cmp(&b.name));
            output::list(json, &list, &["id", "name", "phone", "position"], |s| {
                vec![
                    s.id.to_string(),
                    s.name.clone(),
                    s.phone.clone().unwrap_or_default(),
                    format!("{:.5},{:.5}", s.position.lat, s.position.lon),
                ]
            });
        }
    }
    Ok(())
}
