//! `gridwork-server import`: a subdistrict's base data from CSV and XLSX files. The sample
//! subdistrict goes in whole on both backends and each phone reads its part by sync; refused
//! rows are reported by file, row and column without their values; a dry run writes nothing;
//! importing a corrected file again never duplicates.

use std::path::Path;

use gridwork_domain::model::Area;
use gridwork_domain::op::EntityKind;
use gridwork_server::import::sample::{self, SampleSize};
use gridwork_server::import::{self, Kind, Quiet, Report, Table};
use gridwork_server::operator::Directory;
use gridwork_server::storage::{ScopeFilter, SqliteStorage, Storage};

use crate::common::{Backend, on_both_backends};

fn tables(dir: &Path) -> Vec<Table> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| import::table::read(f).unwrap())
        .collect()
}

async fn run<S: Storage>(storage: &S, dir: &Path, dry_run: bool) -> Report {
    import::import(storage, tables(dir), dry_run, &mut Quiet)
        .await
        .unwrap()
}

/// Every record a user's phone would receive in its snapshot, by kind.
async fn phone_reads<S: Storage>(storage: &S, user: &str) -> Vec<(EntityKind, serde_json::Value)> {
    let users = storage.users().await.unwrap();
    let user = users.iter().find(|u| u.name == user).unwrap();
    let view = storage.scope_view(user).await.unwrap();
    let mut out = vec![];
    let mut after = None;
    loop {
        let page = storage
            .snapshot_page(after, 200, ScopeFilter::for_view(view.clone()))
            .await
            .unwrap();
        out.extend(
            page.records
                .into_iter()
                .filter(|r| !r.is_deleted())
                .map(|r| (r.kind, serde_json::Value::Object(r.to_object()))),
        );
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    out
}

fn count(read: &[(EntityKind, serde_json::Value)], kind: EntityKind) -> usize {
    read.iter().filter(|(k, _)| *k == kind).count()
}

async fn the_sample_subdistrict_goes_in_whole_and_each_phone_reads_its_part<S: Backend>() {
    let db = S::create().await;
    let storage = S::open(&db).await;
    let files = tempfile::tempdir().unwrap();
    let written = sample::write(files.path(), SampleSize::README, 1).unwrap();

    let report = run(&storage, files.path(), false).await;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let created = |k: Kind| report.counts[&k].created;
    assert_eq!(created(Kind::Areas), written.areas);
    assert_eq!(created(Kind::Stations), written.stations);
    assert_eq!(created(Kind::Buildings), written.buildings);
    assert_eq!(created(Kind::Households), written.households);
    assert_eq!(created(Kind::Residents), written.residents);
    assert_eq!(created(Kind::Users), written.users);

    let dir = Directory::load(&storage).await.unwrap();
    assert_eq!(dir.residents.len(), written.residents);
    let grid = dir.area_by_code("330105012001001").unwrap().clone();
    let building = dir.building_by_code("3301050120010010001").unwrap();
    assert_eq!(
        building.grid_id, grid.id,
        "the grid the address code was coded in"
    );
    assert!(building.position.is_some() && building.station_id.is_some());
    let wang = storage
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.name == "王芳")
        .unwrap();
    assert_eq!(wang.scope, vec![grid.id], "scopes named by area code");

    // The gridworker's phone receives her grid: its buildings, households and residents.
    let reads = phone_reads(&storage, "王芳").await;
    let per_grid = SampleSize::README.buildings;
    assert_eq!(count(&reads, EntityKind::Building), per_grid);
    assert_eq!(
        count(&reads, EntityKind::Household),
        per_grid * SampleSize::README.households
    );
    let in_grid: Vec<_> = dir
        .residents
        .values()
        .filter(|r| dir.buildings[&dir.households[&r.household_id].building_id].grid_id == grid.id)
        .collect();
    assert_eq!(count(&reads, EntityKind::Resident), in_grid.len());
    // The building head, only the building.
    let head = phone_reads(&storage, "张伟").await;
    assert_eq!(count(&head, EntityKind::Building), 1);
    assert_eq!(
        count(&head, EntityKind::Household),
        SampleSize::README.households
    );
    // The dispatcher, the whole subdistrict.
    let dispatcher = phone_reads(&storage, "赵敏").await;
    assert_eq!(count(&dispatcher, EntityKind::Building), written.buildings);

    // The same files again: nothing changes, nothing is added to the log.
    let end = storage.log_end().await.unwrap();
    let again = run(&storage, files.path(), false).await;
    assert!(again.refused.is_empty(), "{:?}", again.refused);
    for (kind, c) in &again.counts {
        assert_eq!((c.created, c.updated), (0, 0), "{kind:?}");
    }
    assert_eq!(again.counts[&Kind::Residents].unchanged, written.residents);
    assert_eq!(storage.log_end().await.unwrap(), end);
}

on_both_backends!(the_sample_subdistrict_goes_in_whole_and_each_phone_reads_its_part);

fn sqlite() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    (dir, storage)
}

/// Replaces line `line` (1-based, the header is 1) of a file.
fn edit_line(path: &Path, line: usize, text: &str) -> String {
    let body = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    let old = std::mem::replace(&mut lines[line - 1], text.to_string());
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    old
}

#[tokio::test]
async fn refused_rows_are_reported_by_file_row_and_column_without_their_values() {
    let (_db, storage) = sqlite();
    let files = tempfile::tempdir().unwrap();
    let written = sample::write(files.path(), SampleSize::README, 1).unwrap();
    let residents = files.path().join("居民.csv");
    // The last rows are people of the last building, which nothing else here touches.
    let n = std::fs::read_to_string(&residents).unwrap().lines().count();
    // Row n: an ID number whose check digit is wrong.
    let good = edit_line(&residents, n, "x");
    let mut cells: Vec<String> = good.split(',').map(str::to_string).collect();
    let number = cells[1].clone();
    let last = number.chars().last().unwrap();
    let wrong = if last == '1' { '2' } else { '1' };
    let bad_number = format!("{}{wrong}", &number[..17]);
    cells[1] = bad_number.clone();
    edit_line(&residents, n, &cells.join(","));
    // Row n-1: an unknown key group; row n-2: the same person as row n-3.
    let kg = edit_line(&residents, n - 1, "x");
    let mut c3: Vec<&str> = kg.split(',').collect();
    c3[5] = "退役军人";
    edit_line(&residents, n - 1, &c3.join(","));
    let twin = std::fs::read_to_string(&residents)
        .unwrap()
        .lines()
        .nth(n - 4)
        .unwrap()
        .to_string();
    edit_line(&residents, n - 2, &twin);
    // 房屋 row 2: an unknown kind; 楼栋 row 3: a grid that does not exist.
    let households = files.path().join("房屋.csv");
    let h2 = edit_line(&households, 2, "x");
    let mut hc: Vec<&str> = h2.split(',').collect();
    hc[2] = "别墅";
    edit_line(&households, 2, &hc.join(","));
    let buildings = files.path().join("楼栋.csv");
    let b3 = edit_line(&buildings, 3, "x");
    let mut bc: Vec<&str> = b3.split(',').collect();
    bc[3] = "330105012009001";
    edit_line(&buildings, 3, &bc.join(","));
    // 用户: a scope naming nothing.
    std::fs::write(
        files.path().join("用户.csv"),
        "姓名,角色,范围\n王芳,网格员,330105012001001\n孙丽,网格员,330105099001001\n李强,楼长,330105012001001\n",
    )
    .unwrap();

    let report = run(&storage, files.path(), false).await;
    let refused: Vec<(String, usize, String)> = report
        .refused
        .iter()
        .map(|r| (r.source.clone(), r.row, r.field.clone()))
        .collect();
    let has = |file: &str, row: usize, field: &str| {
        refused.contains(&(file.to_string(), row, field.to_string()))
    };
    assert!(has("居民.csv", n, "身份证号"), "{refused:?}");
    assert!(has("居民.csv", n - 1, "重点人群"), "{refused:?}");
    assert!(
        has("居民.csv", n - 2, "身份证号"),
        "a second row of the same person: {refused:?}"
    );
    assert!(has("房屋.csv", 2, "类型"), "{refused:?}");
    assert!(has("楼栋.csv", 3, "网格编码"), "{refused:?}");
    assert!(has("用户.csv", 3, "范围"), "{refused:?}");
    assert!(
        has("用户.csv", 4, "范围"),
        "a building head's scope is buildings: {refused:?}"
    );
    let reason = |file: &str, row: usize| {
        report
            .refused
            .iter()
            .find(|r| r.source == file && r.row == row)
            .unwrap()
            .reason
            .clone()
    };
    assert!(
        reason("居民.csv", n).contains("check digit"),
        "{}",
        reason("居民.csv", n)
    );
    assert!(
        reason("房屋.csv", 2).contains("出租"),
        "names the choices: {}",
        reason("房屋.csv", 2)
    );
    // No value of a refused row is echoed.
    let csv = report.refused_csv();
    assert!(csv.starts_with("文件,行,字段,原因"), "{csv}");
    for secret in [bad_number.as_str(), number.as_str(), "退役军人", "别墅"] {
        assert!(!csv.contains(secret), "the report echoes a value: {csv}");
    }
    // Rows hanging from a refused row are refused too (the building's households); the rest
    // went in.
    let dir = Directory::load(&storage).await.unwrap();
    assert_eq!(dir.buildings.len(), written.buildings - 1);
    assert!(report.counts[&Kind::Households].refused > SampleSize::README.households);

    // The office corrects the ID number and imports the file again: that one resident is
    // added, nothing is duplicated.
    let before = dir.residents.len();
    cells[1] = number.clone();
    edit_line(&residents, n, &cells.join(","));
    let again = import::import(
        &storage,
        import::table::read(&residents).unwrap(),
        false,
        &mut Quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        again.counts[&Kind::Residents].created,
        1,
        "{:?}",
        again.refused
    );
    assert_eq!(again.counts[&Kind::Residents].updated, 0);
    let dir = Directory::load(&storage).await.unwrap();
    assert_eq!(dir.residents.len(), before + 1);
    let numbers: std::collections::HashSet<_> = dir
        .residents
        .values()
        .filter_map(|r| r.id_number.clone())
        .collect();
    assert_eq!(numbers.len(), dir.residents.len(), "no one twice");
}

#[tokio::test]
async fn a_corrected_row_changes_only_its_fields_and_a_dry_run_writes_nothing() {
    let (_db, storage) = sqlite();
    let files = tempfile::tempdir().unwrap();
    let written = sample::write(files.path(), SampleSize::README, 3).unwrap();

    let dry = run(&storage, files.path(), true).await;
    assert!(dry.dry_run && dry.refused.is_empty(), "{:?}", dry.refused);
    assert_eq!(dry.counts[&Kind::Residents].created, written.residents);
    assert_eq!(
        storage.log_end().await.unwrap(),
        0,
        "a dry run writes nothing"
    );
    assert!(storage.users().await.unwrap().is_empty());

    run(&storage, files.path(), false).await;
    // The office renames a community, moves a household to 群租 and a building to another
    // grid, and imports again.
    let areas = files.path().join("区域.csv");
    let body = std::fs::read_to_string(&areas).unwrap();
    std::fs::write(&areas, body.replace("申慧社区,社区", "申慧新村社区,社区")).unwrap();
    let households = files.path().join("房屋.csv");
    let h = edit_line(&households, 2, "x");
    let mut hc: Vec<&str> = h.split(',').collect();
    hc[2] = "群租";
    edit_line(&households, 2, &hc.join(","));
    let buildings = files.path().join("楼栋.csv");
    let b = edit_line(&buildings, 2, "x");
    let mut bc: Vec<&str> = b.split(',').collect();
    bc[3] = "330105012001002";
    edit_line(&buildings, 2, &bc.join(","));

    let end = storage.log_end().await.unwrap();
    let report = run(&storage, files.path(), false).await;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.counts[&Kind::Areas].updated, 1);
    assert_eq!(report.counts[&Kind::Households].updated, 1);
    assert_eq!(report.counts[&Kind::Buildings].updated, 1);
    assert_eq!(report.counts[&Kind::Residents].updated, 0);
    let dir = Directory::load(&storage).await.unwrap();
    let community = dir.area_by_code("330105012001").unwrap();
    assert_eq!(community.name, "申慧新村社区");
    let moved = dir.building_by_code(bc[0]).unwrap();
    assert_eq!(
        moved.grid_id,
        dir.area_by_code("330105012001002").unwrap().id
    );
    // The moved building's households followed it (the push planner moved them).
    let household = dir
        .households
        .values()
        .find(|h| h.building_id == moved.id)
        .unwrap();
    let place = storage.place_of(household.id).await.unwrap().unwrap();
    assert_eq!(place.areas.last(), Some(&moved.grid_id));
    // Three records changed, each by one operation of only its changed field.
    let log = storage.log_page(None, end, 100).await.unwrap();
    assert_eq!(log.entries.len(), 3);
    for e in &log.entries {
        let gridwork_domain::op::OpBody::Set { fields } = &e.op.body else {
            panic!("a set")
        };
        assert_eq!(fields.len(), 1, "{:?}", fields.keys());
        assert!(
            fields.values().all(|w| w.base.is_some()),
            "with the stamp it overwrote"
        );
    }
}

#[tokio::test]
async fn a_workbook_with_a_sheet_per_kind_imports_and_numbers_too_long_are_refused() {
    let (_db, storage) = sqlite();
    let files = tempfile::tempdir().unwrap();
    sample::write(files.path(), SampleSize::README, 5).unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    for kind in ["区域", "消防站", "楼栋", "房屋", "居民", "用户"] {
        let body = std::fs::read_to_string(files.path().join(format!("{kind}.csv"))).unwrap();
        let sheet = book.add_worksheet();
        sheet.set_name(kind).unwrap();
        for (r, line) in body.lines().enumerate() {
            for (c, cell) in line.split(',').enumerate() {
                // Numbers as numbers: the stations' positions, and the second building's
                // address code typed as one (a spreadsheet keeps 15 digits of it).
                let code_as_number = kind == "楼栋" && r == 2 && c == 0;
                let position = kind == "消防站" && r > 0 && (c == 2 || c == 3);
                if code_as_number || position {
                    sheet
                        .write_number(r as u32, c as u16, cell.parse::<f64>().unwrap())
                        .unwrap();
                } else {
                    sheet.write_string(r as u32, c as u16, cell).unwrap();
                }
            }
        }
    }
    let path = files.path().join("基础数据.xlsx");
    book.save(&path).unwrap();
    let tables = import::table::read(&path).unwrap();
    assert_eq!(tables.len(), 6);
    assert_eq!(tables[2].source, "基础数据.xlsx:楼栋");

    let report = import::import(&storage, tables, false, &mut Quiet)
        .await
        .unwrap();
    let rounded: Vec<_> = report
        .refused
        .iter()
        .filter(|r| r.source == "基础数据.xlsx:楼栋")
        .collect();
    assert_eq!(rounded.len(), 1, "{:?}", report.refused);
    assert_eq!((rounded[0].row, rounded[0].field.as_str()), (3, "地址编码"));
    assert!(rounded[0].reason.contains("text"), "{}", rounded[0].reason);
    let dir = Directory::load(&storage).await.unwrap();
    let station = dir.station_by_name("申慧社区微型消防站").unwrap();
    assert!(
        (station.position.lat - 30.31).abs() < 1e-9,
        "numbers read as numbers"
    );
    assert_eq!(report.counts[&Kind::Buildings].created, dir.buildings.len());
    assert!(dir.areas.values().any(|a: &Area| a.name == "祥符街道"));
}

#[test]
fn each_kind_has_a_template_with_its_columns_and_files_are_named_for_their_kind() {
    assert_eq!(Kind::Areas.template(), "区域编码,区域名称,层级,上级编码");
    assert_eq!(Kind::named("楼栋"), Some(Kind::Buildings));
    assert_eq!(Kind::named("buildings"), Some(Kind::Buildings));
    assert_eq!(Kind::named("03-居民"), Some(Kind::Residents));
    assert_eq!(Kind::named("其他"), None);
    // The templates shipped in docs/ are these headers.
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/import-templates");
    for kind in Kind::ALL {
        let body = std::fs::read_to_string(docs.join(format!("{}.csv", kind.zh()))).unwrap();
        assert_eq!(body.trim(), kind.template(), "{kind:?}");
    }
    let err = import::table::read(Path::new("people.csv")).unwrap_err();
    assert!(err.to_string().contains("楼栋"), "{err}");
}

#[test]
fn the_shipped_sample_is_the_generator_s_output() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/xiangfu");
    let fresh = tempfile::tempdir().unwrap();
    sample::write(fresh.path(), SampleSize::README, 1).unwrap();
    for kind in Kind::ALL {
        let name = format!("{}.csv", kind.zh());
        assert_eq!(
            std::fs::read_to_string(shipped.join(&name)).unwrap(),
            std::fs::read_to_string(fresh.path().join(&name)).unwrap(),
            "{name}: regenerate with `cargo run -p gridwork-server -- sample samples/xiangfu`"
        );
    }
}
