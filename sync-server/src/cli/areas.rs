//! `gridwork-server import` and `gridwork-server area …`: the operator's commands over the
//! records (areas, buildings, the whole base data), written through the push planner as the
//! server's [`Operator`] so phones receive them by sync; and the check that a user's scope names
//! records that exist ([`resolve_scope`]).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Entity, Term};
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::sync::{PushOutcome, Role};
use gridwork_domain::validate::address_code;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::import::{self, Kind, Progress, Table};
use crate::operator::{Directory, Operator};
use crate::storage::Storage;
use gridwork_i18n::{t, tr};

type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The catalogue's `key`, or `otherwise` when it has no such key.
fn t_or(key: &str, otherwise: &str) -> String {
    gridwork_i18n::current()
        .get(key)
        .unwrap_or_else(|| otherwise.to_string())
}

/// The files given to `import`: each file, or each file of a folder.
pub fn read_tables(paths: &[PathBuf]) -> CliResult<Vec<Table>> {
    let mut files = vec![];
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| super::file_error(path, &e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    let mut tables = vec![];
    for file in files {
        tables.extend(import::table::read(&file)?);
    }
    if tables.is_empty() {
        return Err(tr("import-no-file", &[("names", &Kind::names())]).into());
    }
    Ok(tables)
}

/// Progress on standard error, drawn only on a terminal.
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn stage(&mut self, what: &str, total: u64) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg:28} {bar:30} {pos}/{len} {per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_string());
        if !std::io::stderr().is_terminal() {
            eprintln!("{what}: {total}");
        }
        self.0 = Some(bar);
    }
    fn set(&mut self, done: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
        }
    }
}

/// `import`: checks and writes the files, prints what happened and every refused row.
pub async fn run_import<S: Storage>(
    storage: &S,
    paths: &[PathBuf],
    dry_run: bool,
    report_file: Option<PathBuf>,
) -> CliResult<()> {
    let tables = read_tables(paths)?;
    let mut bar = Bar(None);
    let mut report = import::import(storage, tables, dry_run, &mut bar).await?;
    // A rule's reason in the output language where the catalogue has its words (the domain's
    // rules and the importer's fixed reasons: `why-…`; a reason with a value: its
    // `import-why-…` message), on the terminal and in the report file.
    let lang = gridwork_i18n::current();
    for r in &mut report.refused {
        r.reason = r.reason_in(lang);
    }
    if let Some(bar) = bar.0.take() {
        bar.finish_and_clear();
    }
    if dry_run {
        outln!("{}", t("import-dry-run"));
    }
    for (kind, c) in &report.counts {
        outln!(
            "{}",
            tr(
                "import-counts",
                &[
                    ("kind", kind.words()),
                    ("created", &c.created.to_string()),
                    ("updated", &c.updated.to_string()),
                    ("unchanged", &c.unchanged.to_string()),
                    ("refused", &c.refused.to_string()),
                ],
            )
        );
    }
    if let Some(path) = &report_file {
        std::fs::write(path, report.refused_csv()).map_err(|e| super::file_error(path, &e))?;
    }
    if report.refused.is_empty() {
        return Ok(());
    }
    outln!("{}", t("import-refused-header"));
    for r in &report.refused {
        outln!("{}\t{}\t{}\t{}", r.source, r.row, r.field, r.reason);
    }
    Err(tr(
        "import-refused",
        &[("rows", &report.refused.len().to_string())],
    )
    .into())
}

/// A refused row's reason in the output language: `why-` and the reason's words made a key
/// ([`gridwork_i18n::slug`]), else the reason as the importer gave it.
pub fn reason_words(reason: &str) -> String {
    t_or(&format!("why-{}", gridwork_i18n::slug(reason)), reason)
}

/// The ids of a user's scope entries (area codes, address codes, station names or ids), each
/// a stored record of the kind the role's scope holds.
pub async fn resolve_scope<S: Storage>(
    storage: &S,
    role: Role,
    entries: &[String],
) -> CliResult<Vec<Id>> {
    let entries: Vec<&str> = entries
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Ok(vec![]);
    }
    let mut found = vec![];
    let dir = if entries.iter().all(|e| e.parse::<Id>().is_ok()) {
        None
    } else {
        Some(Directory::load(storage).await?)
    };
    for (i, entry) in entries.iter().enumerate() {
        let hit = match (&dir, entry.parse::<Id>()) {
            (Some(dir), _) => dir.scope_entry(entry),
            (None, Ok(id)) => storage
                .record(id)
                .await?
                .filter(|s| !s.is_deleted())
                .map(|s| (id, s.kind))
                .filter(|(_, k)| {
                    matches!(
                        k,
                        EntityKind::Area | EntityKind::Building | EntityKind::Station
                    )
                }),
            (None, Err(_)) => None,
        };
        let hit =
            hit.ok_or_else(|| tr("server-scope-no-entry", &[("entry", &(i + 1).to_string())]))?;
        found.push(hit);
    }
    if import::check_scope(role, &found).is_err() {
        let key = match role {
            Role::BuildingHead => "server-scope-buildings-only",
            Role::FireCrew => "server-scope-stations-only",
            _ => "server-scope-areas-only",
        };
        return Err(tr(key, &[("role", &crate::cli::role_words(role))]).into());
    }
    Ok(found.into_iter().map(|(id, _)| id).collect())
}

/// Pushes `ops` as the operator and fails with the server's reason if any is refused.
async fn write<S: Storage>(storage: &S, operator: &Operator, ops: Vec<Op>) -> CliResult<()> {
    for r in operator.push(storage, ops, |_| {}).await? {
        if let PushOutcome::Rejected { message, .. } = r.outcome {
            return Err(tr("area-refused", &[("message", &message)]).into());
        }
    }
    Ok(())
}

fn area<'d>(dir: &'d Directory, code: &str) -> CliResult<&'d Area> {
    dir.area_by_code(code.trim())
        .or_else(|| code.parse::<Id>().ok().and_then(|id| dir.areas.get(&id)))
        .ok_or_else(|| tr("area-no-code", &[("code", code.trim())]).into())
}

/// `area create`.
pub async fn create<S: Storage>(
    storage: &S,
    code: &str,
    name: &str,
    level: AreaLevel,
    parent: Option<&str>,
) -> CliResult<()> {
    let dir = Directory::load(storage).await?;
    if dir.area_by_code(code).is_some() {
        return Err(tr("area-exists", &[("code", code)]).into());
    }
    let parent_id = match (level.parent_level(), parent) {
        (None, None) => None,
        (None, Some(_)) => return Err(t("area-parent-of-district").into()),
        (Some(_), None) => return Err(t("area-parent-needed").into()),
        (Some(_), Some(p)) => {
            let p = area(&dir, p)?;
            address_code::check_child_code("--code", p.level, &p.code, level, code)?;
            Some(p.id)
        }
    };
    let mut new = Area {
        id: uuid::Uuid::now_v7(),
        level,
        code: code.to_string(),
        name: name.to_string(),
        parent_id,
        response_policies: vec![],
    };
    new.normalize()?;
    let mut operator = Operator::new();
    let op = operator.create(&new)?;
    write(storage, &operator, vec![op]).await?;
    outln!("{}\t{}\t{}", new.id, new.code, new.name);
    Ok(())
}

/// `area rename`.
pub async fn rename<S: Storage>(storage: &S, code: &str, name: &str) -> CliResult<()> {
    let dir = Directory::load(storage).await?;
    let a = area(&dir, code)?;
    let mut renamed = Area {
        name: name.to_string(),
        ..a.clone()
    };
    renamed.normalize()?;
    let mut operator = Operator::new();
    let Some(op) = operator.update(&dir.states[&a.id], &renamed)? else {
        outln!("{}", tr("area-same-name", &[("code", &a.code)]));
        return Ok(());
    };
    write(storage, &operator, vec![op]).await?;
    outln!(
        "{}",
        tr(
            "area-renamed",
            &[("code", &a.code), ("name", &renamed.name)]
        )
    );
    Ok(())
}

/// `area retire`: only an area nothing hangs from any more.
pub async fn retire<S: Storage>(storage: &S, code: &str) -> CliResult<()> {
    let dir = Directory::load(storage).await?;
    let a = area(&dir, code)?;
    let children = dir
        .areas
        .values()
        .filter(|c| c.parent_id == Some(a.id))
        .count();
    let buildings = dir
        .buildings
        .values()
        .filter(|b| b.grid_id == a.id || b.micro_grid_id == Some(a.id))
        .count();
    let stations = dir.stations.values().filter(|s| s.area_id == a.id).count();
    let users = storage
        .users()
        .await?
        .into_iter()
        .filter(|u| u.scope.contains(&a.id))
        .count();
    if children + buildings + stations + users > 0 {
        return Err(tr(
            "area-not-empty",
            &[
                ("code", &a.code),
                ("areas", &children.to_string()),
                ("buildings", &buildings.to_string()),
                ("stations", &stations.to_string()),
                ("users", &users.to_string()),
            ],
        )
        .into());
    }
    let mut operator = Operator::new();
    let op = operator.delete(&dir.states[&a.id]);
    write(storage, &operator, vec![op]).await?;
    outln!(
        "{}",
        tr("area-retired", &[("code", &a.code), ("name", &a.name)])
    );
    Ok(())
}

/// `area move-buildings`: buildings named by address code (or id), or every building whose
/// address code starts with a prefix, into a grid (and micro-grid). Their households,
/// residents and cases move with them (the push planner), phones of the old grid lose them and
/// phones of the new one receive them on their next sync.
pub async fn move_buildings<S: Storage>(
    storage: &S,
    to: &str,
    micro_grid: Option<&str>,
    buildings: &[String],
    prefix: Option<&str>,
) -> CliResult<()> {
    let dir = Directory::load(storage).await?;
    let grid = area(&dir, to)?;
    if grid.level != AreaLevel::Grid {
        return Err(tr(
            "area-to-not-grid",
            &[
                ("code", &grid.code),
                (
                    "level",
                    &t_or(
                        &format!("area-{}", grid.level.as_str()),
                        grid.level.as_str(),
                    ),
                ),
            ],
        )
        .into());
    }
    let micro = match micro_grid {
        Some(m) => {
            let m = area(&dir, m)?;
            if m.level != AreaLevel::MicroGrid || m.parent_id != Some(grid.id) {
                return Err(t("area-micro-not-of-grid").into());
            }
            Some(m.id)
        }
        None => None,
    };
    let mut chosen = vec![];
    for b in buildings {
        let found = dir
            .building_by_code(b.trim())
            .or_else(|| b.parse::<Id>().ok().and_then(|id| dir.buildings.get(&id)))
            .ok_or_else(|| tr("area-no-building-code", &[("code", b.trim())]))?;
        chosen.push(found.clone());
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(t("area-prefix-digits").into());
        }
        let mut matched: Vec<_> = dir
            .buildings
            .values()
            .filter(|b| b.address_code.starts_with(prefix))
            .cloned()
            .collect();
        matched.sort_by(|a, b| a.address_code.cmp(&b.address_code));
        chosen.extend(matched);
    }
    if chosen.is_empty() {
        return Err(t("area-no-building-chosen").into());
    }
    chosen.sort_by(|a, b| a.address_code.cmp(&b.address_code));
    chosen.dedup_by_key(|b| b.id);
    let mut operator = Operator::new();
    let mut ops = vec![];
    for b in &chosen {
        let mut moved = b.clone();
        moved.grid_id = grid.id;
        moved.micro_grid_id = micro;
        if let Some(op) = operator.update(&dir.states[&b.id], &moved)? {
            ops.push(op);
        }
    }
    let n = ops.len();
    let households: Vec<Id> = dir
        .households
        .values()
        .filter(|h| chosen.iter().any(|b| b.id == h.building_id))
        .map(|h| h.id)
        .collect();
    let residents = dir
        .residents
        .values()
        .filter(|r| households.contains(&r.household_id))
        .count();
    write(storage, &operator, ops).await?;
    outln!(
        "{}",
        tr(
            "area-moved",
            &[
                ("moved", &n.to_string()),
                ("code", &grid.code),
                ("name", &grid.name),
                ("already", &(chosen.len() - n).to_string()),
                ("households", &households.len().to_string()),
                ("residents", &residents.to_string()),
            ],
        )
    );
    Ok(())
}

/// What an area holds, itself and below.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Held {
    pub buildings: usize,
    pub households: usize,
    pub residents: usize,
}

/// Every area with what it holds (itself and below), in tree order with its depth.
pub fn tree(dir: &Directory) -> Vec<(usize, &Area, Held)> {
    let mut held: HashMap<Id, Held> = HashMap::new();
    let mut per_building: HashMap<Id, Held> = HashMap::new();
    for b in dir.buildings.values() {
        per_building.entry(b.id).or_default().buildings += 1;
    }
    for h in dir.households.values() {
        per_building.entry(h.building_id).or_default().households += 1;
    }
    for r in dir.residents.values() {
        if let Some(h) = dir.households.get(&r.household_id) {
            per_building.entry(h.building_id).or_default().residents += 1;
        }
    }
    for (building, counts) in per_building {
        let Some(b) = dir.buildings.get(&building) else {
            continue;
        };
        for area in dir.area_path(b.micro_grid_id.unwrap_or(b.grid_id)) {
            let h = held.entry(area).or_default();
            h.buildings += counts.buildings;
            h.households += counts.households;
            h.residents += counts.residents;
        }
    }
    let mut children: HashMap<Option<Id>, Vec<&Area>> = HashMap::new();
    for a in dir.areas.values() {
        let parent = a.parent_id.filter(|p| dir.areas.contains_key(p));
        children.entry(parent).or_default().push(a);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.code.cmp(&b.code));
    }
    let mut out = vec![];
    let mut stack: Vec<(usize, &Area)> = children
        .get(&None)
        .map(|l| l.iter().rev().map(|a| (0, *a)).collect())
        .unwrap_or_default();
    while let Some((depth, a)) = stack.pop() {
        out.push((depth, a, held.get(&a.id).copied().unwrap_or_default()));
        if let Some(kids) = children.get(&Some(a.id)) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    out
}

/// `area list`: the tree, indented, with counts.
pub async fn list<S: Storage>(storage: &S, json: bool) -> CliResult<()> {
    let dir = Directory::load(storage).await?;
    let tree = tree(&dir);
    if json {
        let rows: Vec<serde_json::Value> = tree
            .iter()
            .map(|(depth, a, h)| {
                serde_json::json!({
                    "id": a.id, "code": a.code, "name": a.name, "level": a.level.code(),
                    "parent_id": a.parent_id, "depth": depth,
                    "buildings": h.buildings, "households": h.households, "residents": h.residents,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    outln!("{}", t("area-tree-header"));
    for (depth, a, h) in tree {
        outln!(
            "{}{} {}\t{}\t{}\t{}\t{}\t{}",
            "  ".repeat(depth),
            a.code,
            a.name,
            match gridwork_i18n::current() {
                gridwork_i18n::Lang::Zh => a.level.zh(),
                gridwork_i18n::Lang::En => a.level.as_str(),
            },
            h.buildings,
            h.households,
            h.residents,
            a.id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwork_i18n::Lang;

    /// Every fixed reason the importer gives has Chinese words, and the English words are the
    /// importer's own (so a reworded rule fails here until the catalogue follows).
    #[test]
    fn the_importer_s_fixed_reasons_have_chinese_words() {
        let source = include_str!("../import/mod.rs");
        // The source's string literals with their `\`-continued lines joined.
        let mut joined = String::new();
        let mut rest = source;
        while let Some(at) = rest.find("\\\n") {
            joined.push_str(&rest[..at]);
            rest = rest[at + 2..].trim_start();
        }
        joined.push_str(rest);
        let fixed = [
            "must not be empty",
            "must be a number in degrees",
            "a district has no parent area",
            "must name the code of the area above",
            "no area has this code",
            "no area has this code (the area above must come first, or be stored)",
            "no micro fire station has this name",
            "give both latitude and longitude, or neither",
            "no building has this address code",
            "this micro-grid is not in the building's grid",
            "no household at this unit of the building (import it in 房屋 first)",
            "an entry names no area code, address code or station",
            "no grid has the code the address code starts with: give the grid's code in this column",
            "typed as a number, which the spreadsheet rounded: format the column as text (设置单元格格式 → 文本) and type it again",
        ];
        for reason in fixed {
            assert!(
                joined.contains(&format!("\"{reason}\"")),
                "the importer no longer says {reason:?}"
            );
            let key = format!("why-{}", gridwork_i18n::slug(reason));
            assert!(Lang::Zh.has(&key), "{key}");
            assert_eq!(Lang::En.t(&key), reason, "{key}");
        }
        // The reasons that carry a value are catalogue messages (`import-why-…`).
        for key in import::Words::KEYS {
            assert!(joined.contains(&format!("\"{key}\"")), "{key} is used");
            for lang in Lang::ALL {
                assert!(lang.has(key), "{key} in {lang:?}");
            }
        }
        assert!(
            !joined.contains("unknown value; use one of")
                && !joined.contains("already on row")
                && !joined.contains("format!(\"the ")
                && !joined.contains("format!(\"no "),
            "a reason with a value formed in English in the importer"
        );
        gridwork_i18n::set_current(Lang::Zh);
        assert_eq!(reason_words("no area has this code"), "没有这个编码的区域");
        assert_eq!(reason_words("an unknown reason"), "an unknown reason");
        // A row the push refused: the server's code and reason in words of each language.
        let by_push = |code: &str, message: &str| import::Refusal {
            source: "楼栋.csv".into(),
            row: 3,
            field: String::new(),
            reason: String::new(),
            words: Some(import::Words {
                key: "import-why-server-refused",
                args: vec![(
                    "reason",
                    import::Arg::Refused {
                        code: code.into(),
                        message: message.into(),
                    },
                )],
            }),
        };
        let admin_only = by_push("forbidden", "areas are managed by an admin");
        assert_eq!(
            admin_only.reason_in(Lang::Zh),
            "服务器拒绝了这一行：你的角色或区域不允许：区域由管理员管理"
        );
        assert_eq!(
            admin_only.reason_in(Lang::En),
            "the server refused the row: not allowed for your role or area: areas are managed by \
             an admin"
        );
        let taken = by_push(
            "invalid",
            "household.unit: another household of this building already has this unit: add the \
             people to it instead",
        );
        assert_eq!(
            taken.reason_in(Lang::Zh),
            "服务器拒绝了这一行：修改的值被拒绝：单元 (household.unit)：本楼栋已有另一户住户登记了这个单元：请把人员加到那一户"
        );
    }
}
