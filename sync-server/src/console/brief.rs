//! The Tuesday review (周二例会): the weekly brief of any week and area the user may see, with
//! the grid ranking (晾晒比拼), printable, and exported as CSV and XLSX. The figures are the
//! domain's [`weekly_brief`], fed from the server's records as the device's store feeds it
//! (`core/src/workflows/brief.rs`): per grid, the cases opened by week end (folded at week end,
//! those closed before the week left out), the grid's households, residents and stays as at
//! week end, and the visits of patrols whose chain verifies. Every export is written to the
//! audit log (`export`, by the console user, with the area code and week).

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Days, NaiveDate};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{AreaLevel, Registration, Term};
use gridwork_domain::workflow::weekly_brief::review_week;
use gridwork_domain::workflow::{
    BriefInput, FoldedCase, GridFacts, KeyGroupPolicy, WeeklyBrief, fold_until, patrol_chain,
    weekly_brief,
};
use serde::Deserialize;

use super::world::World;
use super::{Nav, Refusal, Signed, html, labels, non_empty, signed_in};
use crate::audit::{AuditAction, AuditFact};
use crate::http::AppState;
use crate::storage::Storage;

/// `?area=<area code>&week=<YYYY-MM-DD>` (any day of the week; default: the week the coming
/// or current Tuesday reviews, and the user's widest area).
#[derive(Debug, Default, Deserialize)]
pub struct BriefQuery {
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub week: Option<String>,
}

/// An area the brief may be made for.
#[derive(Debug, Clone)]
pub struct AreaChoice {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

/// The brief of `area` for the week starting `week_start`, from `world`, made at `now_ms`.
pub fn brief_of(
    world: &World,
    area: Id,
    week_start: NaiveDate,
    now_ms: u64,
) -> Result<WeeklyBrief, String> {
    let Some(root) = world.areas.get(&area) else {
        return Err("没有这个区域，或它不在您的辖区内".into());
    };
    let policy = world.policy_for(area);
    let week_end = week_start
        .checked_add_days(Days::new(6))
        .unwrap_or(NaiveDate::MAX);
    let mut input = BriefInput {
        area_name: root.name.clone(),
        week_start,
        week_end,
        grids: vec![],
        made_at_ms: Some(now_ms),
    };
    let (from_ms, _) = input.window_ms(policy.utc_offset_minutes);
    let as_of = input.as_of_ms(policy.utc_offset_minutes);

    let grids: Vec<_> = world
        .areas_at(AreaLevel::Grid)
        .into_iter()
        .filter(|g| world.within(g.id, area))
        .collect();
    let grid_ids: HashSet<Id> = grids.iter().map(|g| g.id).collect();
    let grid_of = |a: Id| {
        world
            .grid_of(a)
            .map(|g| g.id)
            .filter(|g| grid_ids.contains(g))
    };

    let mut cases: HashMap<Option<Id>, Vec<FoldedCase>> = HashMap::new();
    for row in &world.cases {
        let c = &row.case;
        if !world.within(c.area_id, area) || c.opened_at_ms > as_of {
            continue;
        }
        if row.fold.closed_at_ms.is_some_and(|closed| closed < from_ms) {
            continue;
        }
        let fold = fold_until(c.kind, c.opened_at_ms, &row.events, as_of);
        cases
            .entry(grid_of(c.area_id))
            .or_default()
            .push(FoldedCase {
                case: c.clone(),
                fold,
            });
    }
    // What hangs from each grid's buildings.
    let building_grid: HashMap<Id, Id> = world
        .buildings
        .values()
        .filter_map(|b| grid_of(b.grid_id).map(|g| (b.id, g)))
        .collect();
    let household_grid: HashMap<Id, Id> = world
        .households
        .values()
        .filter_map(|h| building_grid.get(&h.building_id).map(|g| (h.id, *g)))
        .collect();
    // Patrols whose chain verifies count; patrols from before visits were chained count apart
    // as legacy, never ranked (ADR 0030), as on the phone; a broken chain counts nowhere.
    let verdicts: HashMap<Id, patrol_chain::ChainVerdict> = world
        .patrols
        .values()
        .map(|p| (p.id, patrol_chain::verify(p, &world.visits)))
        .collect();
    let intact: HashSet<Id> = verdicts
        .iter()
        .filter(|(_, v)| v.is_intact())
        .map(|(id, _)| *id)
        .collect();
    let legacy: HashSet<Id> = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, patrol_chain::ChainVerdict::Unchained))
        .map(|(id, _)| *id)
        .collect();
    let mut facts = Vec::with_capacity(grids.len() + 1);
    for grid in grids {
        let g = grid.id;
        let households: Vec<_> = world
            .households
            .values()
            .filter(|h| household_grid.get(&h.id) == Some(&g))
            .cloned()
            .collect();
        facts.push(GridFacts {
            grid_id: g,
            grid_name: grid.name.clone(),
            cases: cases.remove(&Some(g)).unwrap_or_default(),
            residents: world
                .residents
                .values()
                .filter(|r| household_grid.get(&r.household_id) == Some(&g))
                .cloned()
                .collect(),
            registrations: world
                .registrations
                .iter()
                .filter(|r| household_grid.get(&r.household_id) == Some(&g))
                .filter_map(|r| as_at(r.clone(), week_end))
                .collect(),
            patrol_visits: world
                .visits
                .iter()
                .filter(|v| building_grid.get(&v.building_id) == Some(&g))
                .filter(|v| intact.contains(&v.patrol_id))
                .cloned()
                .collect(),
            legacy_patrol_visits: world
                .visits
                .iter()
                .filter(|v| building_grid.get(&v.building_id) == Some(&g))
                .filter(|v| legacy.contains(&v.patrol_id))
                .cloned()
                .collect(),
            households,
        });
    }
    if let Some(outside) = cases.remove(&None).filter(|c| !c.is_empty()) {
        facts.push(GridFacts {
            grid_id: area,
            grid_name: format!("{}（网格外）", root.name),
            cases: outside,
            households: vec![],
            registrations: vec![],
            residents: vec![],
            patrol_visits: vec![],
            legacy_patrol_visits: vec![],
        });
    }
    input.grids = facts;
    weekly_brief(&input, &policy, &KeyGroupPolicy::default()).map_err(|e| e.to_string())
}

/// A stay as it stood at the end of `day`.
fn as_at(mut stay: Registration, day: NaiveDate) -> Option<Registration> {
    if stay.check_in > day {
        return None;
    }
    if stay.check_out.is_some_and(|out| out > day) {
        stay.check_out = None;
    }
    Some(stay)
}

/// The week and area a query asks for, with the choices to offer.
fn resolve(
    world: &World,
    signed: &Signed,
    q: &BriefQuery,
    now_ms: u64,
) -> Result<(Id, NaiveDate, Vec<AreaChoice>), Refusal> {
    let today = chrono::DateTime::from_timestamp_millis(now_ms as i64 + labels::UTC_OFFSET_MS)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let week = match non_empty(&q.week) {
        Some(s) => {
            let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                Refusal::Status(
                    StatusCode::BAD_REQUEST,
                    "周次须为日期，如 2026-11-30".into(),
                )
            })?;
            day - Days::new(u64::from(day.weekday().num_days_from_monday()))
        }
        None => review_week(today),
    };
    let mut areas: Vec<_> = world
        .areas
        .values()
        .filter(|a| {
            matches!(
                a.level,
                AreaLevel::District
                    | AreaLevel::Subdistrict
                    | AreaLevel::GridLayer
                    | AreaLevel::Community
                    | AreaLevel::Grid
            )
        })
        .collect();
    areas.sort_by(|a, b| a.code.cmp(&b.code));
    let wanted = match non_empty(&q.area) {
        Some(code) => areas
            .iter()
            .find(|a| a.code == code)
            .map(|a| a.id)
            .ok_or_else(|| {
                Refusal::Status(
                    StatusCode::NOT_FOUND,
                    "没有这个区域，或它不在您的辖区内".into(),
                )
            })?,
        None => signed
            .user
            .scope
            .iter()
            .find(|id| world.areas.contains_key(id))
            .copied()
            .or_else(|| areas.first().map(|a| a.id))
            .ok_or_else(|| Refusal::Status(StatusCode::NOT_FOUND, "您的辖区内还没有区域".into()))?,
    };
    let choices = areas
        .iter()
        .map(|a| AreaChoice {
            code: a.code.clone(),
            name: format!("{}（{}）", a.name, a.level.zh()),
            selected: a.id == wanted,
        })
        .collect();
    Ok((wanted, week, choices))
}

async fn load<S: Storage>(
    state: &AppState<S>,
    headers: &HeaderMap,
    q: &BriefQuery,
) -> Result<(Signed, WeeklyBrief, String, Vec<AreaChoice>), Refusal> {
    let signed = signed_in(state, headers, true).await?;
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let now = state.now_ms();
    let (area, week, choices) = resolve(&world, &signed, q, now)?;
    let brief = brief_of(&world, area, week, now)
        .map_err(|e| Refusal::Status(StatusCode::BAD_REQUEST, e))?;
    let code = world
        .areas
        .get(&area)
        .map(|a| a.code.clone())
        .unwrap_or_default();
    Ok((signed, brief, code, choices))
}

/// A figure as a percentage.
pub fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The brief as rows of cells: the summary, then the grid ranking (the CSV and XLSX both).
pub fn summary_rows(b: &WeeklyBrief) -> Vec<(String, String)> {
    let mut rows = vec![
        ("区域".to_string(), b.area_name.clone()),
        ("周次".into(), format!("{} 至 {}", b.week_start, b.week_end)),
    ];
    for k in &b.cases {
        rows.push((
            format!("{}：新增/办结/周末在办", k.kind.zh()),
            format!("{}/{}/{}", k.opened, k.closed, k.open_at_week_end),
        ));
    }
    rows.push((
        "周末督办：红/黄/绿".into(),
        format!("{}/{}/{}", b.colours.red, b.colours.yellow, b.colours.green),
    ));
    rows.push((
        "出租房登记率（按人/按房）".into(),
        format!(
            "{} / {}",
            pct(b.registration.rate.person_rate),
            pct(b.registration.rate.room_rate)
        ),
    ));
    rows.push((
        "隐患：发现/整改/周末未改".into(),
        format!(
            "{}/{}/{}",
            b.hazards.found, b.hazards.fixed, b.hazards.open_at_week_end
        ),
    ));
    rows.push((
        "重点人群：人数/本周走访/逾期未访".into(),
        format!(
            "{}/{}/{}",
            b.key_groups.residents, b.key_groups.visited_in_week, b.key_groups.overdue_at_week_end
        ),
    ));
    rows.push(("巡查打卡".into(), b.patrol_visits.to_string()));
    rows.push((
        "火警：接警/到场中位分钟/目标内到场".into(),
        match &b.alarms.arrival {
            Some(a) => format!(
                "{}/{:.1}/{}",
                b.alarms.opened,
                a.median_minutes,
                pct(a.share_within_target)
            ),
            None => format!("{}/—/—", b.alarms.opened),
        },
    ));
    rows
}

/// The ranking's header and rows.
pub fn ranking_rows(b: &WeeklyBrief) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let head = vec![
        "名次",
        "网格",
        "新增案件",
        "红色超时",
        "登记率（按人）",
        "发现隐患",
        "整改隐患",
        "重点人群走访",
        "逾期未访",
        "巡查打卡",
    ];
    let rows = b
        .grids
        .iter()
        .map(|g| {
            vec![
                g.rank.to_string(),
                g.grid_name.clone(),
                g.cases_opened.to_string(),
                g.red_cases.to_string(),
                pct(g.registration.person_rate),
                g.hazards_found.to_string(),
                g.hazards_fixed.to_string(),
                g.key_group_visits.to_string(),
                g.key_group_overdue.to_string(),
                g.patrol_visits.to_string(),
            ]
        })
        .collect();
    (head, rows)
}

/// The brief as CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese).
pub fn to_csv(b: &WeeklyBrief) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(vec![]);
    for (k, v) in summary_rows(b) {
        w.write_record([k, v])?;
    }
    w.write_record([""])?;
    let (head, rows) = ranking_rows(b);
    w.write_record(head)?;
    for r in rows {
        w.write_record(r)?;
    }
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend(w.into_inner().map_err(|e| e.into_error())?);
    Ok(out)
}

/// The brief as an XLSX workbook: a sheet 简报 with the summary, a sheet 网格排名 with the
/// ranking.
pub fn to_xlsx(b: &WeeklyBrief) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("简报")?;
    sheet.set_column_width(0, 36)?;
    sheet.set_column_width(1, 30)?;
    for (i, (k, v)) in summary_rows(b).into_iter().enumerate() {
        sheet.write_string(i as u32, 0, k)?;
        sheet.write_string(i as u32, 1, v)?;
    }
    let sheet = book.add_worksheet();
    sheet.set_name("网格排名")?;
    let (head, rows) = ranking_rows(b);
    for (c, h) in head.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    sheet.set_column_width(1, 28)?;
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) if c != 1 => sheet.write_number(r as u32 + 1, c as u16, n)?,
                _ => sheet.write_string(r as u32 + 1, c as u16, cell)?,
            };
        }
    }
    book.save_to_buffer()
}

#[derive(Template)]
#[template(path = "console/brief.html")]
struct BriefPage {
    nav: Nav,
    brief: WeeklyBrief,
    summary: Vec<(String, String)>,
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    red: Vec<(String, String, String, String)>,
    areas: Vec<AreaChoice>,
    area_code: String,
    week: String,
    made: String,
}

/// `GET /console/brief`.
pub async fn page<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<BriefQuery>,
) -> Result<Response, Refusal> {
    let (signed, brief, area_code, areas) = load(&state, &headers, &q).await?;
    let (head, rows) = ranking_rows(&brief);
    let red = brief
        .red_cases
        .iter()
        .map(|r| {
            (
                r.grid_name.clone(),
                r.kind.zh().to_string(),
                r.title.clone(),
                labels::span(r.overdue_by_ms),
            )
        })
        .collect();
    Ok(html(BriefPage {
        nav: Nav::of(&signed, "brief"),
        summary: summary_rows(&brief),
        head,
        rows,
        red,
        areas,
        area_code,
        week: brief.week_start.to_string(),
        made: labels::datetime(state.now_ms()),
        brief,
    }))
}

fn file_name(b: &WeeklyBrief, ext: &str) -> String {
    // ASCII only in the header's plain `filename`; the Chinese name in `filename*`.
    let name = format!("周报-{}-{}.{ext}", b.area_name, b.week_start);
    let encoded: String = name
        .bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'-' {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect();
    format!(
        "attachment; filename=\"brief-{}.{ext}\"; filename*=UTF-8''{encoded}",
        b.week_start
    )
}

/// Writes the export to the audit log (who, which area and week, which format).
async fn audit_export<S: Storage>(
    state: &AppState<S>,
    signed: &Signed,
    area_code: &str,
    b: &WeeklyBrief,
    format: &str,
) -> Result<(), Refusal> {
    state
        .storage
        .append_audit(AuditFact {
            at_ms: state.now_ms(),
            actor: format!("console:user:{}", signed.user.id),
            action: AuditAction::Export,
            target_kind: Some("area".into()),
            target_id: Some(area_code.to_string()),
            reason: format!("weekly brief {} as {format}", b.week_start),
            fact_id: None,
        })
        .await?;
    Ok(())
}

/// `GET /console/brief.csv`.
pub async fn csv<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<BriefQuery>,
) -> Result<Response, Refusal> {
    let (signed, brief, code, _) = load(&state, &headers, &q).await?;
    let body = to_csv(&brief)
        .map_err(|e| Refusal::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    audit_export(&state, &signed, &code, &brief, "csv").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file_name(&brief, "csv")),
        ],
        body,
    )
        .into_response())
}

/// `GET /console/brief.xlsx`.
pub async fn xlsx<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<BriefQuery>,
) -> Result<Response, Refusal> {
    let (signed, brief, code, _) = load(&state, &headers, &q).await?;
    let body = to_xlsx(&brief)
        .map_err(|e| Refusal::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    audit_export(&state, &signed, &code, &brief, "xlsx").await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, file_name(&brief, "xlsx")),
        ],
        body,
    )
        .into_response())
}
