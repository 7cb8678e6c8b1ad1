//! Hazards, disputes, alarms, cases and their steps, conflicts, the weekly brief.

use chrono::NaiveDate;
use gridwork_core::{CaseView, Gridwork};
use gridwork_domain::model::{Building, Case, CaseKind};
use gridwork_domain::validate::Position;
use gridwork_domain::workflow::{CaseAction, DefenceLevel};
use serde_json::json;
use uuid::Uuid;

use super::{CliError, CliResult, local_time, today};
use crate::args::{AlarmCmd, CaseCmd, ConflictCmd, DisputeCmd, HazardCmd};
use crate::output;

fn case_line(v: &CaseView) -> String {
    let colour = v.colour.map_or("—", |c| c.label_zh());
    let due = v
        .deadline
        .as_ref()
        .map(|d| format!(" (due {})", local_time(d.due_ms)))
        .unwrap_or_default();
    format!(
        "[{colour}] {} {} · {}{due}",
        v.case.kind.as_str(),
        v.case.title,
        v.fold.state,
    )
}

pub fn hazard(gw: &Gridwork, cmd: HazardCmd, json: bool) -> CliResult {
    let HazardCmd::Report {
        building,
        title,
        category,
        severity,
    } = cmd;
    let b: Building = gw.get(building)?;
    let view = gw.open_case(Case {
        id: Uuid::nil(),
        kind: CaseKind::Hazard,
        title,
        category,
        severity,
        area_id: b.grid_id,
        building_id: Some(b.id),
        household_id: None,
        position: b.position,
        opened_at_ms: 0,
        patrol_id: None,
    })?;
    output::one(json, &view, |v| {
        format!("hazard reported: {}\n{}", v.case.id, case_line(v))
    });
    Ok(())
}

pub fn dispute(gw: &Gridwork, cmd: DisputeCmd, json: bool) -> CliResult {
    let DisputeCmd::Log {
        area,
        title,
        category,
        severity,
    } = cmd;
    let view = gw.open_case(Case {
        id: Uuid::nil(),
        kind: CaseKind::Dispute,
        title,
        category,
        severity,
        area_id: area,
        building_id: None,
        household_id: None,
        position: None,
        opened_at_ms: 0,
        patrol_id: None,
    })?;
    output::one(json, &view, |v| {
        format!("dispute logged: {}\n{}", v.case.id, case_line(v))
    });
    Ok(())
}

pub fn alarm(gw: &Gridwork, cmd: AlarmCmd, json: bool) -> CliResult {
    match cmd {
        AlarmCmd::Raise { building, title } => {
            let view = gw.raise_alarm(building, &title, "fire", None)?;
            output::one(json, &view, |v| {
                format!(
                    "alarm raised and dispatched: {}\n{}",
                    v.case.id,
                    case_line(v)
                )
            });
        }
        AlarmCmd::Arrive { case, lat, lon } => {
            let position = match (lat, lon) {
                (Some(lat), Some(lon)) => {
                    Some(Position::new("position", lat, lon).map_err(gridwork_core::Error::from)?)
                }
                _ => None,
            };
            let view = gw.record_case_event(case, CaseAction::Arrive { position })?;
            let figure = gw.alarm_arrival(case)?;
            output::one(
                json,
                &json!({"case": view, "arrival": figure}),
                |_| match &figure {
                    Some(f) => format!(
                        "arrived on scene after {:.1} min: {}",
                        f.minutes,
                        if f.within_target {
                            "within the 5-minute target"
                        } else {
                            "beyond the 5-minute target"
                        }
                    ),
                    None => "arrival recorded".into(),
                },
            );
        }
    }
    Ok(())
}

fn action(
    name: &str,
    level: Option<DefenceLevel>,
    text: Option<String>,
    station: Option<Uuid>,
) -> CliResult<CaseAction> {
    let need_level = || level.ok_or_else(|| CliError::Usage(format!("`{name}` needs --level")));
    let need_text = || {
        text.clone()
            .ok_or_else(|| CliError::Usage(format!("`{name}` needs --text")))
    };
    Ok(match name {
        "accept" => CaseAction::Accept,
        "review-assign" => CaseAction::ReviewAssign {
            assignee: None,
            deadline_ms: None,
        },
        "handle" => CaseAction::Handle,
        "completion-review" => CaseAction::CompletionReview,
        "send-back" => CaseAction::SendBack {
            reason: need_text()?,
        },
        "call-back" => CaseAction::CallBack {
            satisfied: text.as_deref() != Some("unsatisfied"),
        },
        "close" => CaseAction::Close,
        "dispatch" => CaseAction::Dispatch {
            station_id: station
                .ok_or_else(|| CliError::Usage("`dispatch` needs --station".into()))?,
        },
        "acknowledge" => CaseAction::Acknowledge,
        "en-route" => CaseAction::EnRoute { position: None },
        "arrive" => CaseAction::Arrive { position: None },
        "resolve" => CaseAction::Resolve,
        "review" => CaseAction::Review,
        "assign" => CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
        "fix" => CaseAction::Fix,
        "recheck-pass" => CaseAction::Recheck { passed: true },
        "recheck-fail" => CaseAction::Recheck { passed: false },
        "mediate" => CaseAction::Mediate {
            level: need_level()?,
        },
        "escalate" => CaseAction::Escalate {
            to: need_level()?,
            reason: need_text()?,
        },
        "settle" => CaseAction::Settle {
            level: need_level()?,
            agreement: need_text()?,
        },
        "not-settled" => CaseAction::NotSettled {
            level: need_level()?,
            reason: need_text()?,
        },
        "note" => CaseAction::Note { text: need_text()? },
        other => {
            return Err(CliError::Usage(format!(
                "unknown step {other:?}; see `gridwork case act --help`"
            )));
        }
    })
}

pub fn case(gw: &Gridwork, cmd: CaseCmd, json: bool) -> CliResult {
    match cmd {
        CaseCmd::List { area, kind } => {
            let mut list = match area {
                Some(a) => gw.open_cases_in_area(a)?,
                None => gw.open_cases()?,
            };
            list.retain(|v| kind.is_none_or(|k| v.case.kind == k));
            output::list(
                json,
                &list,
                &["colour", "id", "kind", "state", "due", "title"],
                |v| {
                    vec![
                        v.colour.map_or("—".into(), |c| c.label_zh().to_string()),
                        v.case.id.to_string(),
                        v.case.kind.as_str().into(),
                        v.fold.state.to_string(),
                        v.deadline
                            .as_ref()
                            .map(|d| local_time(d.due_ms))
                            .unwrap_or_default(),
                        v.case.title.clone(),
                    ]
                },
            );
        }
        CaseCmd::Show { id } => {
            let view = gw.case(id)?;
            let timeline = gw.case_timeline(id)?;
            output::one(json, &json!({"case": view, "timeline": timeline}), |_| {
                let mut out = case_line(&view);
                for t in &timeline {
                    out.push_str(&format!(
                        "\n  {}  {}{}",
                        local_time(t.event.at_ms()),
                        t.event.action.verb(),
                        t.flagged
                            .as_ref()
                            .map(|r| format!("  ⚠ not applied: {r}"))
                            .unwrap_or_default()
                    ));
                }
                out
            });
        }
        CaseCmd::Act {
            id,
            action: name,
            level,
            text,
            station,
        } => {
            let view = gw.record_case_event(id, action(&name, level, text, station)?)?;
            output::one(json, &view, case_line);
        }
    }
    Ok(())
}

pub fn conflicts(gw: &Gridwork, cmd: ConflictCmd, json: bool) -> CliResult {
    match cmd {
        ConflictCmd::List => {
            let fields = gw.field_conflicts()?;
            output::list(
                json,
                &fields,
                &["id", "record", "field", "yours (lost)", "kept"],
                |c| {
                    vec![
                        c.id.to_string(),
                        format!("{} {}", c.entity.as_str(), c.entity_id),
                        c.field.clone(),
                        c.lost_value.to_string(),
                        c.won_value.to_string(),
                    ]
                },
            );
            let events = gw.case_event_conflicts()?;
            if !events.is_empty() || json {
                output::list(
                    json,
                    &events,
                    &["case", "event", "why it was not applied"],
                    |c| {
                        vec![
                            c.case_id.to_string(),
                            c.event_id.to_string(),
                            c.reason.clone(),
                        ]
                    },
                );
            }
        }
        ConflictCmd::Reapply { id } => {
            gw.reapply_conflict(id)?;
            output::one(json, &json!({"reapplied": id}), |_| {
                "your value is written again; sync to send it".into()
            });
        }
        ConflictCmd::Dismiss { id } => {
            gw.dismiss_conflict(id)?;
            output::one(json, &json!({"dismissed": id}), |_| {
                "conflict dismissed".into()
            });
        }
    }
    Ok(())
}

pub fn brief(gw: &Gridwork, area: Uuid, week_start: Option<NaiveDate>, json: bool) -> CliResult {
    let start = week_start.unwrap_or_else(|| today(gw) - chrono::Days::new(6));
    let brief = gw.weekly_brief(area, start)?;
    output::one(json, &brief, |b| b.to_markdown());
    Ok(())
}
