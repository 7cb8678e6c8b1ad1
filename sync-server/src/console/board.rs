//! The live supervision board (督办大屏): live fire alarms on top with the time since raised
//! against the arrival target, then the open cases most urgent first, and per grid the
//! red/yellow/green counts, reddest grid first. Built from a [`World`] at `now_ms` with the
//! domain's own rules ([`supervise`], [`urgency_key`], [`arrival_target`]).

use std::collections::BTreeMap;

use gridwork_domain::ids::Id;
use gridwork_domain::model::{CaseKind, Term};
use gridwork_domain::workflow::{Colour, arrival_target, is_live, supervise, urgency_key};

use super::labels;
use super::world::World;

/// A live fire alarm (raised to on scene).
#[derive(Debug, Clone)]
pub struct AlarmRow {
    pub id: Id,
    pub title: String,
    pub place: String,
    pub state: String,
    pub raised_ms: u64,
    /// When the crew must be on scene (opened + the arrival target).
    pub target_ms: u64,
    /// The target in whole minutes.
    pub target_minutes: u64,
    pub arrived_ms: Option<u64>,
    pub colour: &'static str,
}

/// One open case on the board.
#[derive(Debug, Clone)]
pub struct CaseLine {
    pub id: Id,
    pub kind: &'static str,
    pub title: String,
    pub grid: String,
    pub state: String,
    pub assignee: String,
    /// `red`, `yellow`, `green` or `none`.
    pub colour: &'static str,
    pub colour_zh: &'static str,
    /// The case deadline against now; for a live alarm, its time since raised instead.
    pub due: String,
    /// A live alarm's timer: an alarm has an arrival target, not a case deadline, so its line
    /// shows the time since raised against the target, as the alarm strip does.
    pub alarm: Option<AlarmTimer>,
}

/// A live alarm's running timer on its case line.
#[derive(Debug, Clone)]
pub struct AlarmTimer {
    pub raised_ms: u64,
    pub target_ms: u64,
    pub target_minutes: u64,
    pub arrived_ms: Option<u64>,
}

/// One grid's counts.
#[derive(Debug, Clone, Default)]
pub struct GridLine {
    pub name: String,
    pub red: usize,
    pub yellow: usize,
    pub green: usize,
    pub open: usize,
}

/// The whole board.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub alarms: Vec<AlarmRow>,
    pub cases: Vec<CaseLine>,
    pub grids: Vec<GridLine>,
    pub red: usize,
    pub yellow: usize,
    pub green: usize,
}

/// The colour's CSS name and Chinese word.
pub fn colour_names(c: Option<Colour>) -> (&'static str, &'static str) {
    match c {
        Some(Colour::Red) => ("red", "红"),
        Some(Colour::Yellow) => ("yellow", "黄"),
        Some(Colour::Green) => ("green", "绿"),
        None => ("none", "—"),
    }
}

/// The board of `world` at `now_ms`.
pub fn board(world: &World, now_ms: u64) -> Board {
    let mut out = Board::default();
    let mut open: Vec<_> = world
        .cases
        .iter()
        .filter(|c| !c.fold.is_closed())
        .map(|c| {
            let policy = world.policy_for(c.case.area_id);
            (urgency_key(&policy, &c.case, &c.fold, now_ms), c, policy)
        })
        .collect();
    open.sort_by_key(|(key, _, _)| *key);
    let mut grids: BTreeMap<String, GridLine> = BTreeMap::new();
    for grid in world.areas_at(gridwork_domain::model::AreaLevel::Grid) {
        grids.insert(
            grid.code.clone(),
            GridLine {
                name: grid.name.clone(),
                ..GridLine::default()
            },
        );
    }
    for (_, row, policy) in &open {
        let (case, fold) = (&row.case, &row.fold);
        let supervised = supervise(policy, case, fold, now_ms);
        let colour = supervised.map(|(_, c)| c);
        let (css, zh) = colour_names(colour);
        let grid = world.grid_of(case.area_id);
        let grid_name = grid
            .map(|g| g.name.clone())
            .or_else(|| world.areas.get(&case.area_id).map(|a| a.name.clone()))
            .unwrap_or_default();
        let mut alarm = None;
        if case.kind == CaseKind::Alarm && is_live(case, fold) {
            let target = arrival_target(policy, case, fold);
            let target_ms = target.map_or(case.opened_at_ms, |d| d.due_ms);
            let target_minutes = target_ms.saturating_sub(case.opened_at_ms).div_ceil(60_000);
            alarm = Some(AlarmTimer {
                raised_ms: case.opened_at_ms,
                target_ms,
                target_minutes,
                arrived_ms: fold.arrived_at_ms,
            });
            out.alarms.push(AlarmRow {
                id: case.id,
                title: case.title.clone(),
                place: place_of(world, case.building_id, case.area_id),
                state: labels::state_zh(&fold.state),
                raised_ms: case.opened_at_ms,
                target_ms,
                target_minutes,
                arrived_ms: fold.arrived_at_ms,
                colour: css,
            });
        }
        let line = grids.entry(grid.map_or_else(|| "~".into(), |g| g.code.clone()));
        let line = line.or_insert_with(|| GridLine {
            name: format!("{grid_name}（网格外）"),
            ..GridLine::default()
        });
        line.open += 1;
        match colour {
            Some(Colour::Red) => {
                line.red += 1;
                out.red += 1;
            }
            Some(Colour::Yellow) => {
                line.yellow += 1;
                out.yellow += 1;
            }
            Some(Colour::Green) => {
                line.green += 1;
                out.green += 1;
            }
            None => {}
        }
        out.cases.push(CaseLine {
            id: case.id,
            kind: case.kind.zh(),
            title: case.title.clone(),
            grid: grid_name,
            state: labels::state_zh(&fold.state),
            assignee: world.user_name(fold.assignee),
            colour: css,
            colour_zh: zh,
            due: match &alarm {
                Some(t) => labels::alarm_elapsed(t.raised_ms, t.arrived_ms, now_ms),
                None => supervised
                    .map(|(d, _)| labels::due_words(d.due_ms, now_ms))
                    .unwrap_or_else(|| "—".into()),
            },
            alarm,
        });
    }
    let mut grids: Vec<GridLine> = grids.into_values().collect();
    grids.sort_by(|a, b| {
        (b.red, b.yellow, b.open)
            .cmp(&(a.red, a.yellow, a.open))
            .then_with(|| a.name.cmp(&b.name))
    });
    out.grids = grids;
    out
}

/// A building's address, or the area's name.
pub fn place_of(world: &World, building: Option<Id>, area: Id) -> String {
    building
        .and_then(|b| world.buildings.get(&b))
        .map(|b| b.address.clone())
        .or_else(|| world.areas.get(&area).map(|a| a.name.clone()))
        .unwrap_or_default()
}
