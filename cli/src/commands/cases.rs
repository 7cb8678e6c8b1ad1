//! Hazards, disputes, alarms, hotline cases, incidents, cases and their steps (and their
//! timelines), conflicts, the weekly brief.

use chrono::NaiveDate;
use gridwork_core::{CaseView, Gridwork, HotlineAssignment, TimelineEntry};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Building, Case, CaseKind, Severity};
use gridwork_domain::validate::Position;
use gridwork_domain::workflow::{CaseAction, DefenceLevel};
use serde_json::json;
use uuid::Uuid;

use super::{CliError, CliResult, end_of_day_ms, local_time};
use crate::args::{
    AlarmCmd, AreaRef, BuildingRef, CaseCmd, ConflictCmd, DisputeCmd, HazardCmd, HotlineCmd,
    IncidentCmd, RefusedCmd,
};
use crate::i18n::{code, t, tr};
use crate::output;

fn case_line(v: &CaseView) -> String {
    let colour = v.colour.map_or("—", |c| c.label_zh());
    let due = v
        .deadline
        .as_ref()
        .map(|d| tr("cli-case-due", &[("due", &local_time(d.due_ms))]))
        .unwrap_or_default();
    format!(
        "[{colour}] {}{} {} · {}{due}",
        if v.live {
            t("cli-case-live")
        } else {
            String::new()
        },
        crate::i18n::code("kind", v.case.kind.as_str()),
        v.case.title,
        crate::i18n::state(&v.fold.state),
    )
}

/// A position given as `--lat` and `--lon`.
fn position(lat: Option<f64>, lon: Option<f64>) -> CliResult<Option<Position>> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(Some(
            Position::new("position", lat, lon).map_err(gridwork_core::Error::from)?,
        )),
        _ => Ok(None),
    }
}

/// A new case of `kind` at a building (in its grid, at its position) or in an area.
fn new_case(
    gw: &Gridwork,
    kind: CaseKind,
    area: Option<AreaRef>,
    building: Option<BuildingRef>,
    title: String,
    category: String,
    severity: Severity,
) -> CliResult<Case> {
    let b: Option<Building> = building
        .map(|b| -> CliResult<Building> { Ok(gw.get(b.id(gw)?)?) })
        .transpose()?;
    let area_id = match (area, &b) {
        (Some(area), _) => area.id(gw)?,
        (None, Some(b)) => b.grid_id,
        (None, None) => return Err(CliError::Usage(tr("cli-give-area-or-building", &[]))),
    };
    Ok(Case {
        id: Uuid::nil(),
        kind,
        title,
        category,
        severity,
        area_id,
        building_id: b.as_ref().map(|b| b.id),
        household_id: None,
        position: b.and_then(|b| b.position),
        opened_at_ms: 0,
        patrol_id: None,
    })
}

pub fn hotline(gw: &Gridwork, cmd: HotlineCmd, json: bool) -> CliResult {
    let HotlineCmd::Open {
        area,
        building,
        title,
        category,
        severity,
        assignee,
        due,
    } = cmd;
    let case = new_case(
        gw,
        CaseKind::Hotline,
        area,
        building,
        title,
        category,
        severity,
    )?;
    let assignment = assignee.map(|assignee| HotlineAssignment {
        assignee,
        deadline_ms: due.map(end_of_day_ms),
    });
    let view = gw.receive_hotline_case(case, assignment)?;
    output::one(json, &view, |v| {
        format!(
            "{}\n{}",
            tr("cli-hotline-taken-in", &[("id", &v.case.id.to_string())]),
            case_line(v)
        )
    });
    Ok(())
}

pub fn incident(gw: &Gridwork, cmd: IncidentCmd, json: bool) -> CliResult {
    let IncidentCmd::Raise {
        area,
        building,
        title,
        category,
        severity,
        responder,
    } = cmd;
    let case = new_case(
        gw,
        CaseKind::Incident,
        area,
        building,
        title,
        category,
        severity,
    )?;
    let view = gw.raise_incident(case, responder)?;
    output::one(json, &view, |v| {
        format!(
            "{}\n{}",
            tr("cli-incident-raised", &[("id", &v.case.id.to_string())]),
            case_line(v)
        )
    });
    Ok(())
}

pub fn hazard(gw: &Gridwork, cmd: HazardCmd, json: bool) -> CliResult {
    let HazardCmd::Report {
        building,
        title,
        category,
        severity,
    } = cmd;
    let b: Building = gw.get(building.id(gw)?)?;
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
        format!(
            "{}\n{}",
            tr("cli-hazard-reported", &[("id", &v.case.id.to_string())]),
            case_line(v)
        )
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
        area_id: area.id(gw)?,
        building_id: None,
        household_id: None,
        position: None,
        opened_at_ms: 0,
        patrol_id: None,
    })?;
    output::one(json, &view, |v| {
        format!(
            "{}\n{}",
            tr("cli-dispute-logged", &[("id", &v.case.id.to_string())]),
            case_line(v)
        )
    });
    Ok(())
}

pub fn alarm(gw: &Gridwork, cmd: AlarmCmd, json: bool) -> CliResult {
    match cmd {
        AlarmCmd::Raise { building, title } => {
            let view = gw.raise_alarm(building.id(gw)?, &title, "fire", None)?;
            output::one(json, &view, |v| {
                format!(
                    "{}\n{}",
                    tr("cli-alarm-raised", &[("id", &v.case.id.to_string())]),
                    case_line(v)
                )
            });
        }
        AlarmCmd::Acknowledge { case } => {
            let view = gw.record_case_event(case, CaseAction::Acknowledge)?;
            output::one(json, &view, case_line);
        }
        AlarmCmd::EnRoute { case, lat, lon } => {
            let position = position(lat, lon)?;
            let view = gw.record_case_event(case, CaseAction::EnRoute { position })?;
            output::one(json, &view, case_line);
        }
        AlarmCmd::Arrive { case, lat, lon } => {
            let position = position(lat, lon)?;
            let view = gw.record_case_event(case, CaseAction::Arrive { position })?;
            let figure = gw.alarm_arrival(case)?;
            output::one(
                json,
                &json!({"case": view, "arrival": figure}),
                |_| match &figure {
                    Some(f) => tr(
                        if f.within_target {
                            "cli-arrived-within"
                        } else {
                            "cli-arrived-beyond"
                        },
                        &[
                            ("minutes", &format!("{:.1}", f.minutes)),
                            ("target", &f.target_minutes.to_string()),
                        ],
                    ),
                    None => t("cli-arrival-recorded"),
                },
            );
        }
    }
    Ok(())
}

/// What `case act` was given besides the step's name.
pub(crate) struct StepArgs {
    pub level: Option<DefenceLevel>,
    pub text: Option<String>,
    pub station: Option<Uuid>,
    pub assignee: Option<Id>,
    pub due: Option<NaiveDate>,
    pub satisfied: Option<bool>,
    pub position: Option<Position>,
}

fn action(name: &str, args: StepArgs) -> CliResult<CaseAction> {
    let StepArgs {
        level,
        text,
        station,
        assignee,
        due,
        satisfied,
        position,
    } = args;
    let needs =
        |flag: &str| CliError::Usage(tr("cli-step-needs", &[("step", name), ("flag", flag)]));
    let need_level = || level.ok_or_else(|| needs("--level"));
    let need_text = || text.clone().ok_or_else(|| needs("--text"));
    Ok(match name {
        "accept" => CaseAction::Accept,
        "review-assign" => CaseAction::ReviewAssign {
            assignee,
            deadline_ms: due.map(end_of_day_ms),
        },
        "handle" => CaseAction::Handle,
        "completion-review" => CaseAction::CompletionReview,
        "send-back" => CaseAction::SendBack {
            reason: need_text()?,
        },
        // The resident's answer is the flag, never read out of words: "不满意" contains "满意".
        "call-back" => {
            if text.is_some() {
                return Err(CliError::Usage(tr("cli-call-back-no-text", &[])));
            }
            CaseAction::CallBack {
                satisfied: satisfied.ok_or_else(|| needs("--satisfied yes|no"))?,
            }
        }
        "close" => CaseAction::Close,
        "dispatch" => CaseAction::Dispatch {
            station_id: station.ok_or_else(|| needs("--station"))?,
        },
        "acknowledge" => CaseAction::Acknowledge,
        "en-route" => CaseAction::EnRoute { position },
        "arrive" => CaseAction::Arrive { position },
        "resolve" => CaseAction::Resolve,
        "review" => CaseAction::Review,
        "assign" => CaseAction::Assign {
            assignee,
            deadline_ms: due.map(end_of_day_ms),
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
            return Err(CliError::Usage(tr("cli-unknown-step", &[("step", other)])));
        }
    })
}

pub fn case(gw: &Gridwork, cmd: CaseCmd, json: bool) -> CliResult {
    match cmd {
        CaseCmd::List { area, kind, mine } => {
            let mut list = match area {
                Some(a) => gw.open_cases_in_area(a.id(gw)?)?,
                None if mine => gw.my_open_cases()?,
                None => gw.open_cases()?,
            };
            list.retain(|v| kind.is_none_or(|k| v.case.kind == k));
            output::list(
                json,
                &list,
                &["colour", "id", "kind", "state", "due", "title"],
                |v| {
                    vec![
                        v.colour
                            .map_or("—".into(), |c| crate::i18n::code("colour", c.as_str())),
                        v.case.id.to_string(),
                        crate::i18n::code("kind", v.case.kind.as_str()),
                        crate::i18n::state(&v.fold.state),
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
            let me = gw.user_id()?;
            // The steps the case allows now that this user may take, as `case act` names them.
            let steps: Vec<String> = gw
                .available_actions(id)?
                .into_iter()
                .flat_map(|a| match a {
                    "recheck" => vec!["recheck-pass".to_string(), "recheck-fail".to_string()],
                    other => vec![other.replace('_', "-")],
                })
                .collect();
            output::one(
                json,
                &json!({"case": view, "timeline": timeline, "available_steps": steps}),
                |_| {
                    let mut out = case_line(&view);
                    for t in &timeline {
                        out.push_str(&timeline_line(t, me));
                    }
                    let words: Vec<String> = steps
                        .iter()
                        .map(|s| {
                            let stable = s.replace('-', "_");
                            let stable = stable
                                .strip_prefix("recheck_")
                                .map_or(stable.as_str(), |_| "recheck");
                            format!("{s}（{}）", crate::i18n::code("step", stable))
                        })
                        .collect();
                    out.push('\n');
                    out.push_str(&tr(
                        "cli-available-steps",
                        &[(
                            "steps",
                            &if words.is_empty() {
                                crate::i18n::t("cli-none")
                            } else {
                                words.join(" · ")
                            },
                        )],
                    ));
                    out
                },
            );
        }
        CaseCmd::Act {
            id,
            action: name,
            level,
            text,
            station,
            assignee,
            due,
            satisfied,
            lat,
            lon,
            photo,
        } => {
            if name == "photo" {
                let file = photo.ok_or_else(super::attachments::needs_file)?;
                return super::attachments::take(gw, id, &file, json);
            }
            let step = action(
                &name,
                StepArgs {
                    level,
                    text,
                    station,
                    assignee,
                    due,
                    satisfied,
                    position: position(lat, lon)?,
                },
            )?;
            let view = gw.record_case_event(id, step)?;
            output::one(json, &view, case_line);
            if let Some(file) = photo {
                super::attachments::take(gw, id, &file, json)?;
            }
        }
    }
    Ok(())
}

pub fn refused(gw: &Gridwork, cmd: RefusedCmd, json: bool) -> CliResult {
    match cmd {
        RefusedCmd::List => {
            let refused = gw.refused_changes()?;
            output::list(
                json,
                &refused,
                &["id", "record", "change", "why it was refused"],
                |r| {
                    vec![
                        r.op_id.to_string(),
                        format!("{} {}", r.kind.as_str(), r.record_id),
                        r.change_words(gridwork_i18n::current()),
                        r.words(gridwork_i18n::current()),
                    ]
                },
            );
        }
        RefusedCmd::Discard { id } => {
            gw.discard_refused(id)?;
            output::one(json, &json!({"discarded": id}), |_| {
                t("cli-refused-discarded")
            });
        }
        RefusedCmd::Redo { id } => {
            let new = gw.redo_refused(id)?;
            output::one(json, &json!({"redone": id, "op_id": new}), |_| {
                t("cli-refused-redone")
            });
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
                t("cli-conflict-reapplied")
            });
        }
        ConflictCmd::Dismiss { id } => {
            gw.dismiss_conflict(id)?;
            output::one(json, &json!({"dismissed": id}), |_| {
                t("cli-conflict-dismissed")
            });
        }
    }
    Ok(())
}

/// One step of a timeline: when, what (in the users' words), by whom, to which state, with what
/// it carried; and why it was not applied, if it was not.
fn timeline_line(t: &TimelineEntry, me: Option<Id>) -> String {
    let action = &t.event.action;
    let who = match t.event.actor {
        Some(actor) if Some(actor) == me => crate::i18n::t("cli-timeline-me"),
        Some(actor) => tr("cli-timeline-user", &[("id", &actor.to_string())]),
        None => "—".into(),
    };
    let state = t
        .state
        .map(|s| format!(" → {}", crate::i18n::state(&s)))
        .unwrap_or_default();
    let details: Vec<String> = action
        .details()
        .into_iter()
        .map(|(what, value)| match (what, value.parse::<u64>()) {
            ("due_ms", Ok(ms)) => tr("cli-timeline-due", &[("due", &local_time(ms))]),
            _ => tr(
                "cli-timeline-detail",
                &[("what", &code("detail", what)), ("value", &value)],
            ),
        })
        .collect();
    let details = if details.is_empty() {
        String::new()
    } else {
        format!("\n      {}", details.join(" · "))
    };
    let by = tr("cli-timeline-by", &[("who", &who)]);
    format!(
        "\n  {}  {} {} · {by}{state}{details}{}",
        local_time(t.event.at_ms()),
        action.label_zh(),
        action.name(),
        t.flagged
            .as_ref()
            .map(|r| format!(
                "\n      {}",
                tr("cli-timeline-not-applied", &[("reason", r)])
            ))
            .unwrap_or_default()
    )
}

pub fn brief(gw: &Gridwork, area: Uuid, week_start: Option<NaiveDate>, json: bool) -> CliResult {
    let start = week_start.unwrap_or_else(|| gw.review_week());
    let brief = gw.weekly_brief(area, start)?;
    output::one(json, &brief, |b| b.to_markdown_in(gridwork_i18n::current()));
    Ok(())
}
