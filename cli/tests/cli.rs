//! The `gridwork` binary as a person uses it: the demo end to end, a device in the terminal
//! against a real server, and clear errors on bad input.

use std::process::{Command, Output};
use std::sync::Arc;

use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::sync::Role;
use gridwork_server::storage::{SqliteStorage, Storage};

#[path = "cli/device_crash.rs"]
mod device_crash;
#[path = "cli/lang.rs"]
mod lang;
#[path = "cli/photos.rs"]
mod photos;
#[path = "cli/readme.rs"]
mod readme;

/// The sync server on a free loopback port, over a SQLite file in `dir`, served by `rt`.
struct LocalServer {
    storage: Arc<SqliteStorage>,
    handle: gridwork_server::ServerHandle,
}

impl LocalServer {
    fn start(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> LocalServer {
        let storage = Arc::new(SqliteStorage::open(dir.join("server.db")).unwrap());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let handle = rt
            .block_on(gridwork_server::serve(listener, storage.clone()))
            .unwrap();
        LocalServer { storage, handle }
    }

    /// The operator's phone (an admin: only admins create areas), enrolled, with a tiny
    /// subdistrict seeded from `seed` and pushed to the server.
    fn seeded_centre(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        seed: u64,
    ) -> (Gridwork, HttpTransport, Seeded) {
        let centre = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let net = HttpTransport::new(&self.handle.url(), None).unwrap();
        let code = self.code(rt, name, Role::Admin, vec![]);
        rt.block_on(centre.enroll(&net, &code, "centre")).unwrap();
        let seeded = seed_subdistrict(&centre, seed, SeedSize::TINY, |_, _| {}).unwrap();
        rt.block_on(centre.sync_now(&net)).unwrap();
        (centre, net, seeded)
    }

    /// A new user and a one-time enrollment code for their device.
    fn code(
        &self,
        rt: &tokio::runtime::Runtime,
        name: &str,
        role: Role,
        scope: Vec<gridwork_domain::ids::Id>,
    ) -> String {
        rt.block_on(async {
            let u = self
                .storage
                .create_user(name.into(), role, scope)
                .await
                .unwrap();
            self.storage
                .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
                .await
                .unwrap()
        })
    }
}

fn gridwork(store: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridwork"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("the gridwork binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The demo narrates in Chinese by default: its stages, the convergence, the conflict, the
/// alarm and the open cases (the English run below checks the story itself).
#[test]
fn the_demo_narrates_in_chinese_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gridwork"))
        .env_remove("GRIDWORK_LANG")
        .args(["demo", "--seed", "7", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        stderr(&out)
    );
    for shown in [
        "gridwork 演示 · 种子 7",
        "✓ 同步服务器在 http://",
        "✓ 已生成拱墅区祥符街道：",
        "✓ 5 部手机已注册",
        "== 收敛：每部手机恰好持有其范围内的全部数据",
        "已收敛 ✓",
        "== 冲突",
        "她电话确认后重新写入了",
        // The phones' refusals in words, by the core's codes.
        "赵磊的手机拒绝了一次入住登记：输入无效：身份证号 (resident.id_number)",
        "服务器拒绝了",
        "在 5 分钟目标之内 ✓",
        "时间线：派警 dispatch（陈静） · 接收 acknowledge（消防站一队）",
        "== 周五 18:00 的在办案件",
        "秒完成",
    ] {
        assert!(
            text.contains(shown),
            "the demo should show {shown:?}:\n{text}"
        );
    }
    for english in ["converged ✓", "The conflict", "finished in", "timeline:"] {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }
    // The server's refusal of a unit 9-901 household, by its code and the rule's words.
    let refused = text
        .lines()
        .find(|l| l.contains("9-901"))
        .expect("the 9-901 line");
    assert!(
        refused
            .contains("修改的值被拒绝：单元 (household.unit)：本楼栋已有另一户住户登记了这个单元"),
        "{refused}"
    );
    assert!(
        refused.contains("（修改住户：归档、楼栋、类型、电话、单元）"),
        "what the change was, in words: {refused}"
    );
    assert!(!refused.contains("a value was refused"), "{refused}");
    assert!(!refused.contains("another household"), "{refused}");
}

/// The whole story, read in English (`--lang en`).
#[test]
fn the_demo_runs_end_to_end_and_shows_the_system_doing_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gridwork"))
        .args(["demo", "--lang", "en", "--seed", "7", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        stderr(&out)
    );
    assert!(text.contains("converged ✓"), "{text}");
    assert!(!text.contains("DIFFERENT"), "{text}");
    assert!(text.contains("within the 5-minute target ✓"), "{text}");
    assert!(
        text.contains("re-applied it"),
        "the conflict and its resolution are shown:\n{text}"
    );
    assert!(text.contains("[红]"), "an overdue case shows red:\n{text}");
    assert!(
        text.contains("工作简报"),
        "the weekly brief is printed:\n{text}"
    );
    // The rules as the seeds tell them.
    for shown in [
        "拱墅区祥符街道",
        "the crew acknowledged, set off and arrived on its own phone",
        // Who took each step, read back from the command centre's timeline: the crew's own
        // steps on the crew's phone, dispatch and review by the dispatcher.
        "timeline: 派警 dispatch by 陈静 · 接收 acknowledge by 消防站一队 · \
         出发 en_route by 消防站一队 · 到达现场 arrive by 消防站一队 · \
         处置完毕 resolve by 消防站一队 · 审核 review by 陈静",
        "set wulin-1-5-30",
        "refused a check-in: invalid input: ID number (resident.id_number)",
        "refused a household: invalid input: unit (household.unit)",
        // A change only the server could refuse: the phone put the record back and listed it.
        "the server refused",
        "household on unit 9-901 (edit household: archived, building, kind, phone, unit): a \
         value was refused: household.unit",
        "the phone put the record back to the server's",
        "disputes climb the lines of defence in order",
        // The Tuesday meeting reviews the previous Monday–Sunday, made after the week.
        "2026-11-16 – 2026-11-22（截至 as at 2026-11-22 23:59）",
        "- 本周调整 Changed this week, 2026-11-18 12:00: wulin-1-5-30",
        "小事不过夜 Small ones settled overnight: 100.0% (2/2)",
        "| 村书记 village secretary | 1 |",
        "5 分钟内到场 Within 5 minutes: 50.0% (2 起 arrivals)",
        "按人 Per person",
        "重点人员 Residents",
    ] {
        assert!(
            text.contains(shown),
            "the demo should show {shown:?}:\n{text}"
        );
    }
    let visited: usize = text
        .lines()
        .find_map(|l| l.split("本周走访 Visited this week ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the key-group line");
    assert!(visited > 0, "key-group visits happen:\n{text}");
    assert!(
        dir.path().join("server.db").exists(),
        "--data-dir keeps the stores"
    );
}

#[test]
fn a_device_in_the_terminal_enrolls_works_and_syncs_with_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let url = server.handle.url();
    let code = |name: &str, role, scope| server.code(&rt, name, role, scope);

    // The operator's phone loads a small subdistrict.
    let (centre, net, seeded) = server.seeded_centre(&rt, "运维", 3);

    let store = dir.path().join("phone.db");
    let c = code("王芳", Role::Gridworker, vec![seeded.grids[0].id]);
    let out = gridwork(
        &store,
        &["device", "enroll", "--server", &url, "--code", &c],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("已注册为 王芳"));
    let out = gridwork(&store, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let grid = seeded.grids[0].id.to_string();
    let out = gridwork(&store, &["building", "list", "--area", &grid, "--json"]);
    let buildings: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(buildings.as_array().unwrap().len(), 4);
    let building = buildings[0]["id"].as_str().unwrap().to_string();

    let out = gridwork(
        &store,
        &[
            "household",
            "add",
            "--building",
            &building,
            "--unit",
            "6-601",
            "--kind",
            "rental",
            "--phone",
            "+86 138 0571 9999",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let household: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(household["phone"], "13805719999", "stored normalised");
    let out = gridwork(
        &store,
        &[
            "hazard",
            "report",
            "--building",
            &building,
            "--title",
            "电动车楼道充电",
            "--severity",
            "high",
        ],
    );
    assert!(stdout(&out).contains("已上报隐患"), "{}", stderr(&out));
    let out = gridwork(&store, &["case", "list", "--json"]);
    let cases: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cases.as_array().unwrap().len(), 1);
    assert_eq!(cases[0]["colour"], "green");
    let out = gridwork(&store, &["search", "楼道充电"]);
    assert!(stdout(&out).contains("电动车楼道充电"));
    let out = gridwork(&store, &["device", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["unsynced_changes"], 2, "made offline, queued");
    assert!(status["encryption"].is_null(), "a store made without a key");
    let out = gridwork(&store, &["device", "status"]);
    assert!(
        stdout(&out).contains("本机数据：未加密"),
        "{}",
        stdout(&out)
    );

    let out = gridwork(&store, &["sync", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["pushed"], 2);
    rt.block_on(centre.sync_now(&net)).unwrap();
    let id = household["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        centre
            .get::<gridwork_domain::model::Household>(id)
            .unwrap()
            .unit,
        "6-601"
    );
    rt.block_on(server.handle.shutdown()).unwrap();
}

/// Runs `gridwork --json` and parses what it prints; panics with its stderr when it fails.
fn json_of(store: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let out = gridwork(store, &with_json);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn the_field_rules_through_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let url = server.handle.url();
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 11);
    let sub = seeded.subdistrict.as_ref().unwrap().id.to_string();
    let grid = seeded.grids[0].id.to_string();
    let building = seeded.buildings[0].id.to_string();

    // The admin sets Wulin's 1/5/30 on the subdistrict; the gridworker's phone takes it.
    let admin = dir.path().join("admin.db");
    let c = server.code(&rt, "管理员", Role::Admin, vec![]);
    assert!(
        gridwork(
            &admin,
            &["device", "enroll", "--server", &url, "--code", &c]
        )
        .status
        .success()
    );
    assert!(gridwork(&admin, &["sync"]).status.success());
    let history = json_of(
        &admin,
        &["area", "policy", "--area", &sub, "--preset", "wulin"],
    );
    assert_eq!(history[0]["name"], "wulin-1-5-30");
    let out = gridwork(
        &admin,
        &["area", "policy", "--area", &grid, "--preset", "wulin"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "only a subdistrict takes a policy"
    );
    assert!(
        stderr(&out).contains("area.response_policies"),
        "{}",
        stderr(&out)
    );
    assert!(gridwork(&admin, &["sync"]).status.success());
    let phone = dir.path().join("phone.db");
    let c = server.code(&rt, "王芳", Role::Gridworker, vec![seeded.grids[0].id]);
    assert!(
        gridwork(
            &phone,
            &["device", "enroll", "--server", &url, "--code", &c]
        )
        .status
        .success()
    );
    assert!(gridwork(&phone, &["sync"]).status.success());
    let shown = json_of(&phone, &["area", "show", &grid]);
    assert_eq!(shown["response_policy_in_force"]["name"], "wulin-1-5-30");
    let me = json_of(&phone, &["device", "status"])["user"]
        .as_str()
        .unwrap()
        .to_string();

    // An incident dispatched to her: on scene within Wulin's five minutes; she sets off from
    // where she is.
    let raised = json_of(
        &phone,
        &[
            "incident",
            "raise",
            "--building",
            &building,
            "--title",
            "老人走失",
            "--responder",
            &me,
        ],
    );
    let incident = raised["case"]["id"].as_str().unwrap().to_string();
    assert_eq!(raised["fold"]["state"], "dispatched");
    json_of(&phone, &["case", "act", &incident, "acknowledge"]);
    let on_way = json_of(
        &phone,
        &[
            "case", "act", &incident, "en-route", "--lat", "30.31", "--lon", "120.12",
        ],
    );
    let opened = on_way["case"]["opened_at_ms"].as_u64().unwrap();
    assert_eq!(
        on_way["deadline"]["due_ms"].as_u64().unwrap(),
        opened + 5 * 60_000
    );
    assert_eq!(on_way["fold"]["en_route_position"]["lat"], 30.31);
    let text = stdout(&gridwork(&phone, &["case", "show", &incident]));
    assert!(text.contains("出发 en_route · 经办：我 → 出动中"), "{text}");
    assert!(text.contains("位置：30.31000,120.12000"), "{text}");

    // A fire alarm: the crew's steps from the terminal, each with its position.
    let alarm = json_of(
        &phone,
        &["alarm", "raise", "--building", &building, "--title", "冒烟"],
    );
    let alarm = alarm["case"]["id"].as_str().unwrap().to_string();
    json_of(&phone, &["alarm", "acknowledge", &alarm]);
    json_of(
        &phone,
        &[
            "alarm", "en-route", &alarm, "--lat", "30.30", "--lon", "120.13",
        ],
    );
    let arrived = stdout(&gridwork(
        &phone,
        &[
            "alarm", "arrive", &alarm, "--lat", "30.31", "--lon", "120.13",
        ],
    ));
    assert!(arrived.contains("5 分钟目标"), "{arrived}");

    // 12345: taken in with its assignee and deadline; the call-back's answer is a flag.
    let due = "2030-01-31";
    let case = json_of(
        &admin,
        &[
            "hotline",
            "open",
            "--area",
            &grid,
            "--title",
            "12345：路灯不亮",
            "--assignee",
            &me,
            "--due",
            due,
        ],
    );
    assert_eq!(case["fold"]["state"], "assigned");
    assert_eq!(case["fold"]["assignee"], me.as_str());
    let hotline = case["case"]["id"].as_str().unwrap().to_string();
    for step in ["handle", "completion-review"] {
        json_of(&admin, &["case", "act", &hotline, step]);
    }
    let out = gridwork(
        &admin,
        &["case", "act", &hotline, "call-back", "--text", "不满意"],
    );
    assert_eq!(out.status.code(), Some(2), "free text is not the answer");
    assert!(stderr(&out).contains("--satisfied"), "{}", stderr(&out));
    let called = json_of(
        &admin,
        &["case", "act", &hotline, "call-back", "--satisfied", "no"],
    );
    assert_eq!(called["fold"]["callback_satisfied"], false);

    // A dispute climbs from the micro-grid leader to the gridworker, who settles it; a jump
    // over a line is refused. `case show` tells who took each step, at which line, why and
    // what was agreed.
    let dispute = json_of(
        &phone,
        &["dispute", "log", "--area", &grid, "--title", "楼上楼下噪音"],
    );
    let dispute = dispute["case"]["id"].as_str().unwrap().to_string();
    json_of(
        &phone,
        &[
            "case",
            "act",
            &dispute,
            "mediate",
            "--level",
            "micro_grid_leader",
        ],
    );
    let out = gridwork(
        &phone,
        &[
            "case",
            "act",
            &dispute,
            "escalate",
            "--level",
            "village_secretary",
            "--text",
            "直接上交",
        ],
    );
    assert_ne!(out.status.code(), Some(0), "a line is never skipped");
    assert!(
        stderr(&out).contains("下一级是网格员/村干部"),
        "{}",
        stderr(&out)
    );
    json_of(
        &phone,
        &[
            "case",
            "act",
            &dispute,
            "escalate",
            "--level",
            "gridworker",
            "--text",
            "双方分歧较大",
        ],
    );
    json_of(
        &phone,
        &[
            "case",
            "act",
            &dispute,
            "settle",
            "--level",
            "gridworker",
            "--text",
            "晚十点后不使用跑步机",
        ],
    );
    let text = stdout(&gridwork(&phone, &["case", "show", &dispute]));
    for shown in [
        "调解 mediate · 经办：我 → 调解中（微网格长）",
        "层级：微网格长 micro-grid leader",
        "升级 escalate · 经办：我 → 调解中（网格员/村干部）",
        "理由：双方分歧较大",
        "化解 settle · 经办：我 → 已化解（网格员/村干部）",
        "协议：晚十点后不使用跑步机",
    ] {
        assert!(text.contains(shown), "{shown:?} in:\n{text}");
    }

    // The ledger: a unit taken, a tenant without an ID number, the people still to register.
    let units = json_of(&phone, &["household", "list", "--building", &building]);
    let taken = units[0]["unit"].as_str().unwrap().to_string();
    let out = gridwork(
        &phone,
        &[
            "household",
            "add",
            "--building",
            &building,
            "--unit",
            &taken,
            "--kind",
            "rental",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("household.unit"), "{}", stderr(&out));
    let room = json_of(
        &phone,
        &[
            "household",
            "add",
            "--building",
            &building,
            "--unit",
            "9-901",
            "--kind",
            "rental",
        ],
    );
    let room = room["id"].as_str().unwrap().to_string();
    let tenant = json_of(
        &phone,
        &[
            "resident",
            "add",
            "--household",
            &room,
            "--name",
            "无证租客",
        ],
    );
    let tenant = tenant["id"].as_str().unwrap().to_string();
    let out = gridwork(
        &phone,
        &[
            "tenant",
            "check-in",
            "--resident",
            &tenant,
            "--household",
            &room,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("resident.id_number"),
        "{}",
        stderr(&out)
    );
    let people = json_of(&phone, &["tenant", "unregistered", "--area", &grid]);
    assert!(
        people
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "无证租客" && p["unit"] == "9-901"),
        "{people}"
    );
    let rooms = json_of(&phone, &["tenant", "rooms", "--area", &grid]);
    let listed = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"] == "9-901")
        .unwrap();
    assert_eq!(listed["unregistered_people"], 1);
    let rate = json_of(&phone, &["tenant", "rate", "--area", &grid]);
    assert!(rate["area"]["person_rate"].as_f64().unwrap() < 1.0);

    // The brief's default week is the Monday–Sunday before this one.
    let brief = json_of(&phone, &["brief", "--area", &grid]);
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let monday = gridwork_domain::workflow::weekly_brief::review_week(today);
    assert_eq!(brief["week_start"], monday.to_string());
    assert!(!brief["week_not_over"].as_bool().unwrap());

    // The subdistrict may also set its own minutes per step; the history keeps both.
    let history = json_of(
        &admin,
        &[
            "area",
            "policy",
            "--area",
            &sub,
            "--name",
            "祥符-2-4-8",
            "--receive",
            "2",
            "--respond",
            "4",
            "--on-scene",
            "8",
            "--fire-arrival",
            "4",
        ],
    );
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["name"], "祥符-2-4-8");
    assert_eq!(
        (
            history[1]["receive_ms"].as_u64(),
            history[1]["respond_ms"].as_u64(),
            history[1]["on_scene_ms"].as_u64(),
            history[1]["fire_arrival_target_ms"].as_u64()
        ),
        (Some(120_000), Some(240_000), Some(480_000), Some(240_000))
    );
    let out = gridwork(
        &admin,
        &[
            "area",
            "policy",
            "--area",
            &sub,
            "--receive",
            "5",
            "--respond",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "steps out of order");
    assert!(
        stderr(&out).contains("response_policy.respond_ms"),
        "{}",
        stderr(&out)
    );

    assert!(gridwork(&admin, &["sync"]).status.success());
    assert!(gridwork(&phone, &["sync"]).status.success());
    let shown = json_of(&phone, &["area", "show", &grid]);
    assert_eq!(shown["response_policy_in_force"]["name"], "祥符-2-4-8");
    for store in [&phone, &admin] {
        let status = json_of(store, &["device", "status"]);
        assert_eq!(status["unsynced_changes"], 0, "{status}");
        assert_eq!(
            status["rejected_changes"], 0,
            "the server took every step: {status}"
        );
    }
    rt.block_on(server.handle.shutdown()).unwrap();
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let nobody = uuid::Uuid::now_v7().to_string();

    let out = gridwork(
        &store,
        &[
            "household",
            "add",
            "--building",
            &nobody,
            "--unit",
            "1",
            "--kind",
            "hotel",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("owner_occupied"),
        "lists the kinds: {}",
        stderr(&out)
    );

    let out = gridwork(
        &store,
        &[
            "household",
            "add",
            "--building",
            &nobody,
            "--unit",
            "1",
            "--kind",
            "rental",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("household.building_id"),
        "{}",
        stderr(&out)
    );

    let out = gridwork(&store, &["sync"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("尚未注册"), "{}", stderr(&out));

    let out = gridwork(
        &store,
        &["device", "enroll", "--server", "ftp://x", "--code", "A"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("http://"), "{}", stderr(&out));
}

/// Runs `gridwork` with extra environment (the key file, the log level).
fn gridwork_with(
    store: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridwork"));
    cmd.arg("--store").arg(store).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the gridwork binary runs")
}

#[test]
fn an_encrypted_phone_logs_at_trace_level_without_a_name_phone_or_id_number() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let url = server.handle.url();
    let code = |name: &str, role| server.code(&rt, name, role, vec![]);
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "陈静", 5);

    // The key lives in a file readable by its owner only.
    let key = dir.path().join("phone.key");
    let store = dir.path().join("phone.db");
    let out = gridwork(
        &store,
        &["device", "new-key", "--out", key.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let env: &[(&str, &std::path::Path)] = &[
        ("GRIDWORK_KEY_FILE", &key),
        ("GRIDWORK_LOG", std::path::Path::new("trace")),
    ];
    let mut log = String::new();
    let mut run = |args: &[&str]| {
        let out = gridwork_with(&store, env, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        log.push_str(&stderr(&out));
        stdout(&out)
    };
    // An admin: an empty scope is everything (see docs/scopes.md).
    let c = code("王芳", Role::Admin);
    run(&["device", "enroll", "--server", &url, "--code", &c]);
    run(&["sync"]);
    // Support sees how the store is encrypted (ADR 0056: every page checked with HMAC-SHA256).
    let status: serde_json::Value =
        serde_json::from_str(&run(&["device", "status", "--json"])).expect("the status is JSON");
    assert_eq!(status["encryption"]["cipher"], "sqlcipher", "{status}");
    assert_eq!(status["encryption"]["page_mac"], "HMAC_SHA256", "{status}");
    let text = run(&["device", "status"]);
    assert!(text.contains("加密，每页以 HMAC-SHA256 校验"), "{text}");
    let resident = seeded
        .residents
        .iter()
        .find(|r| r.id_number.is_some())
        .unwrap();
    let number = resident.id_number.clone().unwrap();
    let masked = gridwork_domain::validate::resident_id::mask(&number);
    let household = resident.household_id.to_string();
    // A list shows the number masked; the single-record view shows it whole to this role.
    let listed = run(&["resident", "list", "--household", &household]);
    assert!(
        listed.contains(&masked) && !listed.contains(&number),
        "{listed}"
    );
    let listed = run(&["resident", "list", "--household", &household, "--json"]);
    assert!(
        listed.contains(&masked) && !listed.contains(&number),
        "{listed}"
    );
    let shown = run(&["resident", "show", &resident.id.to_string()]);
    assert!(shown.contains(&number), "{shown}");
    run(&[
        "resident",
        "add",
        "--household",
        &household,
        "--name",
        "欧阳秀兰",
        "--id-number",
        "11010519491231002X",
        "--phone",
        "13912345678",
    ]);
    run(&["sync"]);
    run(&["device", "status"]);

    assert!(log.contains("sync finished"), "the log is on:\n{log}");
    let mut secrets: Vec<String> = vec![
        "欧阳秀兰".into(),
        "11010519491231002X".into(),
        "13912345678".into(),
    ];
    for r in &seeded.residents {
        secrets.push(r.name.clone());
        secrets.extend(r.id_number.clone());
        secrets.extend(r.phone.clone());
    }
    for h in &seeded.households {
        secrets.extend(h.phone.clone());
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a log line holds personal data"
        );
    }
    eprintln!(
        "figure: {} log lines of 8 commands at TRACE checked against {} names, phones and ID \
         numbers",
        log.lines().count(),
        secrets.len()
    );
    // And the store itself holds none of it in plaintext.
    let bytes = std::fs::read(&store).unwrap();
    for secret in &secrets {
        let s = secret.as_bytes();
        assert!(
            !bytes.windows(s.len()).any(|w| w == s),
            "the store file holds plaintext"
        );
    }

    // Without the key, or with another one: refused, exit code 3, a message to act on.
    let out = gridwork(&store, &["device", "status"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("请用 --key-file 给出它的密钥"),
        "{}",
        stderr(&out)
    );
    let other = dir.path().join("other.key");
    std::fs::write(&other, format!("{}\n", "7e".repeat(32))).unwrap();
    let out = gridwork_with(
        &store,
        &[("GRIDWORK_KEY_FILE", &other)],
        &["device", "status"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("密钥不对，或这不是 gridwork 数据库"),
        "{}",
        stderr(&out)
    );
    rt.block_on(server.handle.shutdown()).unwrap();
}

#[test]
fn a_conflict_on_an_id_number_is_listed_masked_in_the_table_and_in_json() {
    use gridwork_core::seed::id_number;
    use gridwork_domain::model::Resident;
    use gridwork_domain::validate::resident_id::mask;

    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let url = server.handle.url();
    let code = |name: &str| server.code(&rt, name, Role::Admin, vec![]);
    let (centre, net, seeded) = server.seeded_centre(&rt, "陈静", 7);

    let store = dir.path().join("phone.db");
    let c = code("王芳");
    let out = gridwork(
        &store,
        &["device", "enroll", "--server", &url, "--code", &c],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = gridwork(&store, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The phone corrects a resident's ID number offline; the command centre, not having seen
    // it, corrects it to another number a moment later. The phone's value loses and is kept
    // as a conflict holding two whole ID numbers.
    let resident = seeded.residents.last().unwrap().id;
    let day = chrono::NaiveDate::from_ymd_opt(1987, 9, 23).unwrap();
    let (phones_number, centres_number) = (id_number(day, 611), id_number(day, 612));
    {
        let phone = Gridwork::open(&store).unwrap();
        phone
            .update::<Resident>(resident, |r| r.id_number = Some(phones_number.clone()))
            .unwrap();
    }
    // Later by far more than the devices' clock corrections can differ (both read the
    // server's clock on loopback), so the centre's value is the one that wins.
    std::thread::sleep(std::time::Duration::from_secs(1));
    centre
        .update::<Resident>(resident, |r| r.id_number = Some(centres_number.clone()))
        .unwrap();
    rt.block_on(centre.sync_now(&net)).unwrap();
    let out = gridwork(&store, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut whole: Vec<String> = vec![phones_number.clone(), centres_number.clone()];
    whole.extend(seeded.residents.iter().filter_map(|r| r.id_number.clone()));
    for args in [&["conflicts", "list"][..], &["conflicts", "list", "--json"]] {
        let out = gridwork(&store, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let listed = stdout(&out);
        assert!(
            listed.contains(&mask(&phones_number)) && listed.contains(&mask(&centres_number)),
            "{args:?}: the conflict on the ID number is listed, masked:\n{listed}"
        );
        for number in &whole {
            assert!(
                !listed.contains(number.as_str()),
                "{args:?}: a whole ID number is listed:\n{listed}"
            );
        }
    }
    // `--json` prints the field conflicts, then the flagged case events: two documents.
    let out = gridwork(&store, &["conflicts", "list", "--json"]);
    let listed = stdout(&out);
    let mut documents =
        serde_json::Deserializer::from_str(&listed).into_iter::<serde_json::Value>();
    let fields = documents.next().unwrap().unwrap();
    let on_number = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "id_number")
        .expect("a conflict on the ID number");
    assert_eq!(on_number["lost_value"], mask(&phones_number));
    assert_eq!(on_number["won_value"], mask(&centres_number));
    // The single-record view still shows the whole (winning) number to this role.
    let out = gridwork(&store, &["resident", "show", &resident.to_string()]);
    assert!(stdout(&out).contains(&centres_number), "{}", stdout(&out));
    rt.block_on(server.handle.shutdown()).unwrap();
}

#[test]
fn a_damaged_store_is_refused_with_exit_code_3_and_recovered_keeping_its_unsynced_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let queued = {
        let gw = Gridwork::open(&store).unwrap();
        seed_subdistrict(&gw, 2, SeedSize::TINY, |_, _| {}).unwrap();
        gw.pending_count().unwrap()
    };
    let len = std::fs::metadata(&store).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap()
        .set_len(len - 4096 + 100)
        .unwrap();

    let out = gridwork(&store, &["device", "status"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("已损坏") && err.contains("gridwork device recover"),
        "{err}"
    );

    // An export first, which changes nothing.
    let export = dir.path().join("before.jsonl");
    let out = gridwork(
        &store,
        &[
            "device",
            "export-unsynced",
            "--out",
            export.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = std::fs::read_to_string(&export).unwrap().lines().count() as u64;
    assert!(exported > 0 && exported <= queued, "{exported} of {queued}");
    assert_eq!(std::fs::metadata(&store).unwrap().len(), len - 4096 + 100);

    let out = gridwork(&store, &["device", "recover", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rec: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rec["salvaged"], exported);
    assert_eq!(rec["identity_kept"], true);
    let aside = rec["moved_aside"][0].as_str().unwrap();
    assert_eq!(std::fs::metadata(aside).unwrap().len(), len - 4096 + 100);
    let kept = std::fs::read_to_string(rec["export"].as_str().unwrap()).unwrap();
    assert_eq!(kept.lines().count() as u64, exported);

    let out = gridwork(&store, &["device", "status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["unsynced_changes"], exported);
}

/// Workflows the bindings have and the terminal now has too: a gridworker adds a building to
/// their grid (then names it by its address code), a dispatcher adds a micro fire station (a
/// gridworker may not), and `case show` lists the steps the case allows now, by the names
/// `case act` takes.
#[test]
fn a_building_and_a_station_are_added_and_a_case_shows_its_next_steps() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 7);
    let url = server.handle.url();
    let grid = &seeded.grids[0];
    let subdistrict = seeded.subdistrict.as_ref().expect("a subdistrict");

    let phone = dir.path().join("phone.db");
    let code = server.code(&rt, "王芳", Role::Gridworker, vec![grid.id]);
    let out = gridwork(
        &phone,
        &["device", "enroll", "--server", &url, "--code", &code],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(gridwork(&phone, &["sync"]).status.success());

    // A new building: 19 digits starting with its grid's code.
    let address_code = format!("{}9901", grid.code);
    let out = gridwork(
        &phone,
        &[
            "building",
            "add",
            "--grid",
            &grid.code,
            "--address-code",
            &address_code,
            "--address",
            "新建小区 1 幢",
            "--kind",
            "出租楼",
            "--lat",
            "30.28",
            "--lon",
            "120.16",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(line.starts_with("楼栋 新建小区 1 幢 已添加："), "{line}");
    let listed = json_of(&phone, &["building", "list", "--area", &grid.code]);
    let added = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address_code"] == address_code.as_str())
        .expect("the new building is listed");
    assert_eq!(added["kind"], "rental");
    assert!(
        line.trim_end().ends_with(added["id"].as_str().unwrap()),
        "{line}"
    );
    // Named by its address code from then on.
    let out = gridwork(
        &phone,
        &[
            "household",
            "add",
            "--building",
            &address_code,
            "--unit",
            "1-101",
            "--kind",
            "出租",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // An address code outside the grid is refused, naming the field.
    let out = gridwork(
        &phone,
        &[
            "building",
            "add",
            "--grid",
            &grid.code,
            "--address-code",
            "1234567890123456789",
            "--address",
            "别处",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("building.address_code"),
        "{}",
        stderr(&out)
    );

    // A station: a gridworker may not add one; a dispatcher may.
    let station = [
        "station",
        "add",
        "--area",
        &subdistrict.code,
        "--name",
        "新建微站",
        "--lat",
        "30.28",
        "--lon",
        "120.16",
        "--phone",
        "0571-88001234",
    ];
    let out = gridwork(&phone, &station);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("错误：不允许：网格员不能修改微型消防站"),
        "{}",
        stderr(&out)
    );
    let desk = dir.path().join("desk.db");
    let code = server.code(&rt, "陈静", Role::Dispatcher, vec![subdistrict.id]);
    let out = gridwork(
        &desk,
        &["device", "enroll", "--server", &url, "--code", &code],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(gridwork(&desk, &["sync"]).status.success());
    let out = gridwork(&desk, &station);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("微型消防站 新建微站 已添加："),
        "{}",
        stdout(&out)
    );
    let stations = json_of(&desk, &["station", "list"]);
    assert!(
        stations
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "新建微站"),
        "{stations}"
    );

    // A case's next steps, in words and by the names `case act` takes.
    let out = gridwork(
        &phone,
        &[
            "hazard",
            "report",
            "--building",
            &address_code,
            "--title",
            "楼道堆物",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let case = stdout(&out)
        .lines()
        .next()
        .unwrap()
        .rsplit('：')
        .next()
        .unwrap()
        .to_string();
    let shown = json_of(&phone, &["case", "show", &case]);
    let steps: Vec<String> = shown["available_steps"]
        .as_array()
        .expect("the steps")
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert!(!steps.is_empty(), "{shown}");
    let text = stdout(&gridwork(&phone, &["case", "show", &case]));
    let line = text
        .lines()
        .find(|l| l.starts_with("可做的步骤："))
        .unwrap_or_else(|| panic!("{text}"));
    for s in &steps {
        assert!(line.contains(&format!("{s}（")), "{s} in {line}");
    }
    // The first one listed is taken as `case act` names it.
    let out = gridwork(
        &phone,
        &["case", "act", &case, &steps[0], "--text", "处理中"],
    );
    assert!(out.status.success(), "{}: {}", steps[0], stderr(&out));
}

/// What the bindings do for areas the terminal does too (issue 22): an admin's phone creates a
/// grid under a community and renames it, both reach the server; a gridworker is refused in the
/// rule's words. And a change the server refuses is listed in Chinese words (English with
/// `--lang en`), from the server's code and reason (ADR 0046).
#[test]
fn an_admin_creates_and_renames_an_area_and_a_refused_change_is_listed_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 11);
    let url = server.handle.url();
    let grid = &seeded.grids[0];
    let community = seeded
        .communities
        .iter()
        .find(|c| Some(c.id) == grid.parent_id)
        .expect("the grid's community");
    let enroll = |name: &str, role: Role, scope: Vec<gridwork_domain::ids::Id>| {
        let phone = dir.path().join(format!("{name}.db"));
        let code = server.code(&rt, name, role, scope);
        let out = gridwork(
            &phone,
            &["device", "enroll", "--server", &url, "--code", &code],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(gridwork(&phone, &["sync"]).status.success());
        phone
    };

    let admin = enroll("admin", Role::Admin, vec![]);
    let code = format!("{}099", community.code);
    let out = gridwork(
        &admin,
        &[
            "area",
            "create",
            "--code",
            &code,
            "--name",
            "新划网格",
            "--level",
            "网格",
            "--parent",
            &community.code,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.starts_with(&format!("已新建网格 {code} 新划网格：")),
        "{line}"
    );
    let out = gridwork(&admin, &["area", "rename", &code, "--name", "武林新网格"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("已将 {code} 改名为 武林新网格")),
        "{}",
        stdout(&out)
    );
    let shown = json_of(&admin, &["area", "show", &code]);
    assert_eq!(shown["area"]["name"], "武林新网格");
    assert_eq!(shown["area"]["level"], "grid");
    assert_eq!(shown["area"]["parent_id"], community.id.to_string());
    assert!(gridwork(&admin, &["sync"]).status.success());
    let on_server = rt
        .block_on(gridwork_server::storage::IntakeStorage::area_by_code(
            &*server.storage,
            code.clone(),
        ))
        .unwrap();
    assert_eq!(
        on_server.map(|id| id.to_string()),
        shown["area"]["id"].as_str().map(String::from)
    );
    // Another admin's phone receives it, renamed.
    let other = enroll("审核", Role::Admin, vec![]);
    let there = json_of(&other, &["area", "show", &code]);
    assert_eq!(there["area"]["name"], "武林新网格");

    // A gridworker may not: the rule's words, in Chinese and in English.
    let first = enroll("王芳", Role::Gridworker, vec![grid.id]);
    let out = gridwork(
        &first,
        &["area", "rename", &grid.code, "--name", "我的网格"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("错误：不允许：区域由管理员管理"),
        "{}",
        stderr(&out)
    );
    let out = gridwork(
        &first,
        &["--lang", "en", "area", "rename", &grid.code, "--name", "x"],
    );
    assert!(
        stderr(&out).contains("areas are managed by an admin"),
        "{}",
        stderr(&out)
    );

    let building = seeded
        .buildings
        .iter()
        .find(|b| b.grid_id == grid.id)
        .expect("a building of the grid");
    // What `updateResident` and `updateBuilding` change, the terminal changes too: a
    // resident's key groups (Chinese or English) and ID number, a building's address and place.
    let resident = seeded
        .residents
        .iter()
        .find(|r| {
            seeded
                .households
                .iter()
                .any(|h| h.id == r.household_id && h.building_id == building.id)
        })
        .expect("a resident of the building");
    let rid = resident.id.to_string();
    let out = gridwork(
        &first,
        &["resident", "edit", &rid, "--key-group", "独居老人,disabled"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = json_of(&first, &["resident", "show", &rid]);
    assert_eq!(
        shown["key_groups"],
        serde_json::json!(["elderly_living_alone", "disabled"])
    );
    let out = gridwork(&first, &["resident", "edit", &rid, "--key-group", ""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = json_of(&first, &["resident", "show", &rid]);
    assert_eq!(shown["key_groups"], serde_json::json!([]));
    let out = gridwork(
        &first,
        &[
            "resident",
            "edit",
            &rid,
            "--id-number",
            "110105194912310021",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "a wrong check digit is refused");
    assert!(
        stderr(&out).contains("resident.id_number"),
        "{}",
        stderr(&out)
    );
    let out = gridwork(
        &first,
        &[
            "building",
            "edit",
            &building.address_code,
            "--address",
            "梅花碑社区 3 幢（东）",
            "--lat",
            "30.2501",
            "--lon",
            "120.1702",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = json_of(&first, &["building", "list", "--area", &grid.code]);
    let edited = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address_code"] == building.address_code.as_str())
        .expect("the building");
    assert_eq!(edited["address"], "梅花碑社区 3 幢（东）");
    assert_eq!(edited["position"]["lat"], 30.2501);

    // Two phones add the same unit offline; the second to arrive is refused by the server.
    let second = enroll("赵磊", Role::Gridworker, vec![grid.id]);
    let add = [
        "household",
        "add",
        "--building",
        &building.address_code,
        "--unit",
        "9-909",
        "--kind",
        "出租",
    ];
    for phone in [&first, &second] {
        let out = gridwork(phone, &add);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(gridwork(&first, &["sync"]).status.success());
    assert!(gridwork(&second, &["sync"]).status.success());
    let out = gridwork(&second, &["refused", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(listed.contains("修改住户："), "{listed}");
    assert!(!listed.contains("edit household"), "{listed}");
    assert!(
        listed.contains(
            "修改的值被拒绝：单元 (household.unit)：本楼栋已有另一户住户登记了这个单元：请把人员加到那一户"
        ),
        "{listed}"
    );
    assert!(!listed.contains("another household"), "{listed}");
    let out = gridwork(&second, &["--lang", "en", "refused", "list"]);
    assert!(
        stdout(&out).contains(
            "a value was refused: household.unit: another household of this building already has \
             this unit"
        ),
        "{}",
        stdout(&out)
    );
    // `--json` keeps the codes and the server's own reason.
    let refused = json_of(&second, &["refused", "list"]);
    assert_eq!(refused[0]["code"], "invalid");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("household.unit: another household"),
        "{refused}"
    );
}
