//! Patrols, key-group visits and micro fire stations: the rest of a gridworker's day that the
//! app does (every workflow of the bindings has its command).

use gridwork_core::Gridwork;
use gridwork_domain::model::{CaseKind, Station};
use gridwork_domain::validate::Position;

use super::{CliError, CliResult, local_time};
use crate::args::{KeyGroupCmd, PatrolCmd, StationCmd};
use crate::i18n::{t, tr};
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
            output::one(json, &p, |p| {
                tr("patrol-started", &[("id", &p.id.to_string())])
            });
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
                tr(
                    "patrol-visited",
                    &[
                        ("building", &v.building_id.to_string()),
                        ("at", &local_time(v.at_ms)),
                    ],
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
                return Err(CliError::Usage(t("cli-patrol-kind")));
            }
            let v =
                gw.report_finding(patrol, building.id(gw)?, kind, &title, &category, severity)?;
            output::one(json, &v, |v| {
                tr(
                    "patrol-reported",
                    &[("id", &v.case.id.to_string()), ("title", &v.case.title)],
                )
            });
        }
        PatrolCmd::End { patrol } => {
            let p = gw.end_patrol(patrol)?;
            output::one(json, &p, |p| {
                tr("patrol-ended", &[("id", &p.id.to_string())])
            });
        }
        PatrolCmd::Show { patrol } => {
            let s = gw.patrol_summary(patrol)?;
            output::one(json, &s, |s| {
                let until = s
                    .patrol
                    .ended_at_ms
                    .map(|e| tr("patrol-until", &[("at", &local_time(e))]))
                    .unwrap_or_else(|| t("cli-under-way"));
                let mut out = format!(
                    "{}\n{}\n{}",
                    tr(
                        "patrol-summary",
                        &[
                            ("id", &s.patrol.id.to_string()),
                            ("from", &local_time(s.patrol.started_at_ms)),
                            ("until", &until),
                        ],
                    ),
                    tr(
                        "patrol-buildings",
                        &[
                            ("buildings", &s.buildings_visited.to_string()),
                            ("visits", &s.visits.len().to_string()),
                        ],
                    ),
                    tr(
                        "patrol-findings",
                        &[("findings", &s.findings.len().to_string())]
                    ),
                );
                for f in &s.findings {
                    out.push_str(&format!(
                        "\n  {} {} · {}",
                        crate::i18n::code("kind", f.case.kind.as_str()),
                        f.case.title,
                        crate::i18n::state(&f.fold.state)
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
            output::one(json, &summary, |r| {
                tr("keygroup-visit-recorded", &[("name", &r.name)])
            });
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
                            .unwrap_or_else(|| t("cli-never")),
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
        StationCmd::Add {
            area,
            name,
            lat,
            lon,
            phone,
        } => {
            let s = gw.create(Station {
                id: uuid::Uuid::nil(),
                name,
                area_id: area.id(gw)?,
                position: Position::new("station.position", lat, lon)
                    .map_err(gridwork_core::Error::from)?,
                phone,
            })?;
            output::one(json, &s, |s| {
                tr(
                    "cli-station-added",
                    &[("name", &s.name), ("id", &s.id.to_string())],
                )
            });
        }
    }
    Ok(())
}
