//! `gridwork-server area …` and the scope check of `admin create-user`, from the binary: an
//! admin redraws grids after the import (a new grid, buildings moved into it by address-code
//! prefix, the old grid's gridworker moved, the empty grid retired), the records follow the
//! buildings and each user's phone reads the new grid.

use gridwork_domain::op::EntityKind;
use gridwork_server::import::sample::{self, SampleSize};
use gridwork_server::operator::Directory;
use gridwork_server::storage::{ScopeFilter, SqliteStorage, Storage};

use crate::cli::admin;

/// How many live records of `kind` the user named `name` reads in a snapshot.
async fn reads(storage: &SqliteStorage, name: &str, kind: EntityKind) -> usize {
    let users = storage.users().await.unwrap();
    let user = users.iter().find(|u| u.name == name).unwrap();
    let view = storage.scope_view(user).await.unwrap();
    let mut n = 0;
    let mut after = None;
    loop {
        let page = storage
            .snapshot_page(after, 500, ScopeFilter::for_view(view.clone()))
            .await
            .unwrap();
        n += page
            .records
            .iter()
            .filter(|r| r.kind == kind && !r.is_deleted())
            .count();
        match page.next_after {
            Some(next) => after = Some(next),
            None => return n,
        }
    }
}

#[tokio::test]
async fn an_admin_redraws_a_grid_and_records_and_phones_follow() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let files = dir.path().join("files");
    sample::write(&files, SampleSize::README, 1).unwrap();
    let (ok, out, err) = admin(&["import", "--db", db, files.to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("楼栋：新建 12，"), "{out}");

    // A third grid in 申慧, and the first grid's buildings 0001-0009 moved into it.
    let (ok, out, err) = admin(&[
        "area",
        "create",
        "--db",
        db,
        "--code",
        "330105012001003",
        "--name",
        "申慧第三网格",
        "--level",
        "网格",
        "--parent",
        "330105012001",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("申慧第三网格"), "{out}");
    let (ok, out, err) = admin(&[
        "area",
        "move-buildings",
        "--db",
        db,
        "--to",
        "330105012001003",
        "--prefix",
        "33010501200100100",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("已将 3 幢楼栋移入"), "{out}");
    // Each change is in the audit log, by code, with no name in it.
    let (ok, audit, err) = admin(&["audit", "list", "--db", db, "--action", "admin_change"]);
    assert!(ok, "{err}");
    for change in [
        "import (1 files or folders)",
        "area create (code 330105012001003, level grid)",
        "area move-buildings (0 named, prefix 33010501200100100)",
    ] {
        assert!(audit.contains(change), "{change} missing from:\n{audit}");
    }
    assert!(!audit.contains("申慧第三网格"), "{audit}");
    // One more, named by its address code, from the second grid.
    let (ok, out, err) = admin(&[
        "area",
        "move-buildings",
        "--db",
        db,
        "--to",
        "330105012001003",
        "--building",
        "3301050120010020001",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("已将 1 幢楼栋移入"), "{out}");

    let storage = SqliteStorage::open(db).unwrap();
    let dirx = Directory::load(&storage).await.unwrap();
    let new_grid = dirx.area_by_code("330105012001003").unwrap().id;
    let moved = dirx.building_by_code("3301050120010010002").unwrap();
    assert_eq!(moved.grid_id, new_grid);
    // Its households and residents moved with it (their places name the new grid).
    for h in dirx
        .households
        .values()
        .filter(|h| h.building_id == moved.id)
    {
        let place = storage.place_of(h.id).await.unwrap().unwrap();
        assert_eq!(place.areas.last(), Some(&new_grid));
    }
    // 王芳's grid is empty now; 李强's lost one building.
    assert_eq!(reads(&storage, "王芳", EntityKind::Building).await, 0);
    assert_eq!(reads(&storage, "李强", EntityKind::Building).await, 2);
    // 王芳 takes the new grid (named by its code): her phone reads its four buildings.
    let wang = storage
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.name == "王芳")
        .unwrap();
    let (ok, _, err) = admin(&[
        "admin",
        "set-scope",
        "--db",
        db,
        "--user",
        &wang.id.to_string(),
        "--scope",
        "330105012001003",
    ]);
    assert!(ok, "{err}");
    assert_eq!(reads(&storage, "王芳", EntityKind::Building).await, 4);
    assert_eq!(
        reads(&storage, "王芳", EntityKind::Household).await,
        4 * SampleSize::README.households
    );

    // The tree counts what each area holds.
    let (ok, tree, err) = admin(&["area", "list", "--db", db]);
    assert!(ok, "{err}");
    let line = |code: &str| {
        tree.lines()
            .find(|l| l.trim_start().starts_with(code))
            .unwrap_or_else(|| panic!("{code} in\n{tree}"))
            .to_string()
    };
    assert!(
        line("330105012001003 ").contains("\t网格\t4\t16\t"),
        "{tree}"
    );
    assert!(
        line("330105012001001 ").contains("\t网格\t0\t0\t0\t"),
        "{tree}"
    );
    assert!(line("330105 ").contains("\t区\t12\t48\t"), "{tree}");
    assert!(
        line("330105012 ").starts_with("  330105012 祥符街道"),
        "indented under its district: {tree}"
    );

    // Rename; retire the emptied grid (nothing is in it, nobody's scope names it).
    let (ok, _, err) = admin(&[
        "area",
        "rename",
        "--db",
        db,
        "--area",
        "330105012001003",
        "--name",
        "申慧三网格",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = admin(&["area", "retire", "--db", db, "--area", "330105012001002"]);
    assert!(!ok, "a grid with buildings and a user stays");
    assert!(err.contains("请先移走"), "{err}");
    let (_, _, err) = admin(&[
        "area",
        "retire",
        "--db",
        db,
        "--area",
        "330105012001002",
        "--lang",
        "en",
    ]);
    assert!(err.contains("move them first"), "{err}");
    let (ok, _, err) = admin(&["area", "retire", "--db", db, "--area", "330105012001001"]);
    assert!(ok, "{err}");
    let dirx = Directory::load(&storage).await.unwrap();
    assert!(dirx.area_by_code("330105012001001").is_none());
    assert_eq!(
        dirx.area_by_code("330105012001003").unwrap().name,
        "申慧三网格"
    );
}

#[test]
fn a_scope_must_name_a_stored_area_of_the_role_s_kind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let files = dir.path().join("files");
    sample::write(&files, SampleSize::README, 1).unwrap();
    let (ok, _, err) = admin(&["import", "--db", db, files.to_str().unwrap()]);
    assert!(ok, "{err}");
    let create = |role: &str, scope: &str| {
        admin(&[
            "admin",
            "create-user",
            "--db",
            db,
            "--name",
            "孙丽",
            "--role",
            role,
            "--scope",
            scope,
        ])
    };
    let (ok, _, err) = create("gridworker", "330105012009001");
    assert!(!ok);
    assert!(err.contains("不是服务器上已有的区域"), "{err}");
    let (ok, _, err) = create("gridworker", &uuid::Uuid::now_v7().to_string());
    assert!(!ok, "an id that is no area");
    assert!(err.contains("不是服务器上已有的区域"), "{err}");
    let (ok, _, err) = create("building_head", "330105012001001");
    assert!(!ok);
    assert!(err.contains("只能是楼栋"), "{err}");
    let (ok, _, err) = create("楼长", "3301050120010010003");
    assert!(
        ok,
        "a building head by address code, the role in Chinese: {err}"
    );
    let (ok, _, err) = create("fire_crew", "申慧社区微型消防站");
    assert!(ok, "{err}");
    let (ok, _, err) = create("网格员", "330105012001001,330105012001002");
    assert!(ok, "{err}");
}

#[test]
fn a_dry_run_and_refused_rows_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let files = dir.path().join("files");
    sample::write(&files, SampleSize::README, 2).unwrap();
    let (ok, out, err) = admin(&["import", "--db", db, "--dry-run", files.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("试运行，未写入任何数据") && out.contains("居民：新建 "),
        "{out}"
    );
    assert!(!out.contains("created"), "Chinese only by default: {out}");
    // Progress goes to standard error (by stage when it is no terminal), in words too.
    assert!(err.contains("检查居民"), "{err}");
    let (ok, out, err) = admin(&[
        "import",
        "--db",
        db,
        "--dry-run",
        files.to_str().unwrap(),
        "--lang",
        "en",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("dry run: nothing written") && out.contains("residents: created "),
        "{out}"
    );
    assert!(
        err.contains("checking residents") && !err.contains("检查"),
        "{err}"
    );
    let (ok, tree, _) = admin(&["area", "list", "--db", db]);
    assert!(ok);
    assert_eq!(tree.lines().count(), 1, "only the header: {tree}");
    assert!(tree.starts_with("区域\t层级\t楼栋"), "{tree}");
    let (_, tree, _) = admin(&["area", "list", "--db", db, "--lang", "en"]);
    assert!(tree.starts_with("area\tlevel\tbuildings"), "{tree}");

    let households = files.join("房屋.csv");
    let body = std::fs::read_to_string(&households).unwrap();
    std::fs::write(&households, body.replacen(",自住,", ",别墅,", 1)).unwrap();
    let report = dir.path().join("refused.csv");
    let (ok, out, err) = admin(&[
        "import",
        "--db",
        db,
        files.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(!ok, "a refused row fails the command");
    assert!(
        err.contains("错误：拒绝 ") && err.contains("行；请改正后重新导入"),
        "{err}"
    );
    assert!(
        out.contains("房屋.csv\t") && out.contains("\t类型\t"),
        "{out}"
    );
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(
        written.starts_with("文件,行,字段,原因\n房屋.csv,"),
        "{written}"
    );
    assert!(!written.contains("别墅"), "{written}");
}
