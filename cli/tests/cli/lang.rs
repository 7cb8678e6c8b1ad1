//! Chinese first, English available (issue 22, ADR 0024): the binary's states, headers, errors
//! and brief in Chinese by default, in English with `--lang en` or `GRIDWORK_LANG=en`, from
//! the one catalogue; `--json` keeps the stable codes.

use std::process::{Command, Output};

use gridwork_domain::sync::Role;
use gridwork_i18n::Lang;

use super::{LocalServer, stderr, stdout};

/// The binary on `store`, with `GRIDWORK_LANG` set to `lang` (or removed).
fn run(store: &std::path::Path, env_lang: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridwork"));
    cmd.arg("--store").arg(store).args(args);
    match env_lang {
        Some(l) => cmd.env("GRIDWORK_LANG", l),
        None => cmd.env_remove("GRIDWORK_LANG"),
    };
    cmd.output().expect("the gridwork binary runs")
}

#[test]
fn states_headers_errors_and_the_brief_are_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 5);
    let store = dir.path().join("phone.db");
    let code = server.code(&rt, "王芳", Role::Gridworker, vec![seeded.grids[0].id]);
    let url = server.handle.url();
    let out = run(
        &store,
        None,
        &["device", "enroll", "--server", &url, "--code", &code],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run(&store, None, &["sync"]).status.success());
    let grid = seeded.grids[0].id.to_string();

    // Headers and building kinds.
    let zh = stdout(&run(&store, None, &["building", "list", "--area", &grid]));
    let header = zh.lines().next().unwrap();
    for word in ["编号", "地址编码", "地址", "类型"] {
        assert!(header.contains(word), "{word} in {header:?}");
    }
    assert!(!header.contains("address code"), "{header}");
    let en_flag = stdout(&run(
        &store,
        None,
        &["building", "list", "--area", &grid, "--lang", "en"],
    ));
    let en_env = stdout(&run(
        &store,
        Some("en"),
        &["building", "list", "--area", &grid],
    ));
    for en in [&en_flag, &en_env] {
        let header = en.lines().next().unwrap();
        assert!(header.contains("address code"), "{header}");
        assert!(!header.contains("地址编码"), "{header}");
    }
    // The flag wins over the environment.
    let flag_over_env = stdout(&run(
        &store,
        Some("en"),
        &["building", "list", "--area", &grid, "--lang", "zh"],
    ));
    assert!(flag_over_env.lines().next().unwrap().contains("地址编码"));

    // A state: a hazard just reported.
    let buildings: serde_json::Value = serde_json::from_str(&stdout(&run(
        &store,
        None,
        &["building", "list", "--area", &grid, "--json"],
    )))
    .unwrap();
    let building = buildings[0]["id"].as_str().unwrap().to_string();
    let out = run(
        &store,
        None,
        &[
            "hazard",
            "report",
            "--building",
            &building,
            "--title",
            "楼道堆物",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(&store, None, &["case", "list", "--json"]))).unwrap();
    let case_id = json[0]["id"]
        .as_str()
        .or_else(|| json[0]["case"]["id"].as_str())
        .expect("the case's id")
        .to_string();
    let state_code = json[0]["fold"]["state"]
        .as_str()
        .or_else(|| json[0]["fold"]["state"]["state"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| "reported".into());
    let zh = stdout(&run(&store, None, &["case", "list"]));
    let zh_state = Lang::Zh.t(&format!("state-{state_code}"));
    assert!(zh.contains(&zh_state), "{zh_state} in:\n{zh}");
    assert!(zh.lines().next().unwrap().contains("状态"), "{zh}");
    assert!(zh.contains("隐患"), "the kind in Chinese:\n{zh}");
    let en = stdout(&run(&store, Some("en"), &["case", "list"]));
    let en_state = Lang::En.t(&format!("state-{state_code}"));
    assert!(en.contains(&en_state) && en.contains("hazard"), "{en}");
    assert!(!en.contains(&zh_state), "{en}");
    // --json keeps the stable codes in either language.
    assert!(stdout(&run(&store, None, &["case", "list", "--json"])).contains("\"hazard\""));

    // An error: a refused ID number, its field and reason in words, never the number.
    let households: serde_json::Value = serde_json::from_str(&stdout(&run(
        &store,
        None,
        &["household", "list", "--building", &building, "--json"],
    )))
    .unwrap();
    let household = households[0]["id"].as_str().unwrap().to_string();
    let bad = "110105194912310021";
    let add = [
        "resident",
        "add",
        "--household",
        &household,
        "--name",
        "张三",
        "--id-number",
        bad,
    ];
    let out = run(&store, None, &add);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "错误：输入无效：身份证号 (resident.id_number)：身份证号校验位不符（GB 11643）"
        ),
        "{err}"
    );
    assert!(!err.contains(bad), "{err}");
    for out in [
        run(&store, Some("en"), &add),
        run(&store, None, &[&add[..], &["--lang", "en"]].concat()),
    ] {
        let err = stderr(&out);
        assert!(
            err.contains(
                "error: invalid input: ID number (resident.id_number): resident ID number check \
                 digit does not match (GB 11643)"
            ),
            "{err}"
        );
        assert!(!err.contains(bad), "{err}");
    }
    let out = run(&store, None, &["building", "list", "--area", "9999"]);
    assert!(
        stderr(&out).contains("--area：本设备上没有编码为 9999 的区域"),
        "{}",
        stderr(&out)
    );

    // The weekly brief, from the same catalogue.
    let zh = stdout(&run(&store, None, &["brief", "--area", &grid]));
    assert!(zh.starts_with("# 工作简报: "), "{zh}");
    assert!(
        zh.contains("## 红黄绿督办") && !zh.contains("Supervision"),
        "{zh}"
    );
    let en = stdout(&run(&store, Some("en"), &["brief", "--area", &grid]));
    assert!(en.starts_with("# Weekly brief: "), "{en}");
    assert!(
        en.contains("## Supervision") && !en.contains("红黄绿督办"),
        "{en}"
    );

    // A language gridwork does not speak is refused clearly.
    let out = run(&store, None, &["case", "list", "--lang", "fr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("请写 zh 或 en"), "{}", stderr(&out));

    // The detail views: an area and a resident, their labels in the language.
    let zh = stdout(&run(&store, None, &["area", "show", &grid]));
    for words in ["（网格 ", "编号", "上级", "响应时限", "（接收 "] {
        assert!(zh.contains(words), "{words} in:\n{zh}");
    }
    let en = stdout(&run(&store, Some("en"), &["area", "show", &grid]));
    for words in [" (grid ", "id ", "parent ", "response ", "(receive "] {
        assert!(en.contains(words), "{words} in:\n{en}");
    }
    assert!(!en.contains("响应时限") && !en.contains("接收"), "{en}");
    let residents: serde_json::Value = serde_json::from_str(&stdout(&run(
        &store,
        None,
        &["resident", "list", "--household", &household, "--json"],
    )))
    .unwrap();
    let resident = residents[0]["id"].as_str().expect("a seeded resident");
    let zh = stdout(&run(&store, None, &["resident", "show", resident]));
    for words in ["编号", "住户", "身份证号", "电话", "重点人群"] {
        assert!(zh.contains(words), "{words} in:\n{zh}");
    }
    assert!(
        !zh.contains("household") && !zh.contains("key groups"),
        "{zh}"
    );
    let en = stdout(&run(&store, Some("en"), &["resident", "show", resident]));
    for words in ["household", "ID number", "phone", "key groups"] {
        assert!(en.contains(words), "{words} in:\n{en}");
    }

    // The registration rate (人房匹配) of the grid.
    let zh = stdout(&run(&store, None, &["tenant", "rate", "--area", &grid]));
    assert!(
        zh.starts_with("全区域：按人 ") && zh.contains("· 按间 "),
        "{zh}"
    );
    assert!(!zh.contains("per person"), "{zh}");
    let en = stdout(&run(
        &store,
        Some("en"),
        &["tenant", "rate", "--area", &grid],
    ));
    assert!(
        en.starts_with("area: per person ") && en.contains("· per room "),
        "{en}"
    );
    assert!(!en.contains("按人"), "{en}");

    // A step the case's lifecycle has not: the kind, the state and the step in words.
    let out = run(
        &store,
        None,
        &[
            "case",
            "act",
            &case_id,
            "settle",
            "--level",
            "gridworker",
            "--text",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("错误：当前状态不允许：无法化解：隐患没有这一步"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &store,
        Some("en"),
        &[
            "case",
            "act",
            &case_id,
            "settle",
            "--level",
            "gridworker",
            "--text",
            "x",
        ],
    );
    assert!(
        stderr(&out)
            .starts_with("error: not allowed now: cannot settle: a hazard has no such step"),
        "{}",
        stderr(&out)
    );
}

/// The lines moved into the catalogue for issue 22's Chinese-first part: enrollment and sync,
/// a hazard reported, a case step and its timeline, a household added, the device's status, a
/// tenant checked in — each Chinese by default and English with `--lang en`.
#[test]
fn enroll_sync_case_lines_and_timelines_are_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 5);
    let url = server.handle.url();
    let grid = seeded.grids[0].id.to_string();

    // Enrollment, in each language on a store of its own.
    let zh_store = dir.path().join("zh.db");
    let code = server.code(&rt, "王芳", Role::Gridworker, vec![seeded.grids[0].id]);
    let out = run(
        &zh_store,
        None,
        &["device", "enroll", "--server", &url, "--code", &code],
    );
    assert!(
        stdout(&out).starts_with("已注册为 王芳（网格员），设备 "),
        "{}",
        stdout(&out)
    );
    let en_store = dir.path().join("en.db");
    let code = server.code(&rt, "李强", Role::Gridworker, vec![seeded.grids[0].id]);
    let out = run(
        &en_store,
        Some("en"),
        &["device", "enroll", "--server", &url, "--code", &code],
    );
    assert!(
        stdout(&out).starts_with("enrolled as 李强 (gridworker); device "),
        "{}",
        stdout(&out)
    );

    // Sync.
    let zh = stdout(&run(&zh_store, None, &["sync"]));
    assert!(zh.starts_with("已上传 0 条，被拒 0 条，已下载 "), "{zh}");
    let en = stdout(&run(&en_store, None, &["sync", "--lang", "en"]));
    assert!(en.starts_with("pushed 0, rejected 0, pulled "), "{en}");

    // A hazard reported: its line keeps the id as its last word in both languages.
    let buildings: serde_json::Value = serde_json::from_str(&stdout(&run(
        &zh_store,
        None,
        &["building", "list", "--area", &grid, "--json"],
    )))
    .unwrap();
    let building = buildings[0]["id"].as_str().unwrap().to_string();
    let report = |store: &std::path::Path, lang: Option<&str>, title: &str| {
        stdout(&run(
            store,
            lang,
            &[
                "hazard",
                "report",
                "--building",
                &building,
                "--title",
                title,
            ],
        ))
    };
    let zh = report(&zh_store, None, "楼道堆物");
    let first = zh.lines().next().unwrap();
    assert!(first.starts_with("已上报隐患："), "{zh}");
    let case = first.rsplit('：').next().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&case).is_ok(), "the id last: {first}");
    let en = report(&en_store, Some("en"), "消防通道堵塞");
    assert!(en.starts_with("hazard reported: "), "{en}");

    // A step, then the timeline: who, the state reached, what the step carried.
    let out = run(
        &zh_store,
        None,
        &["case", "act", &case, "note", "--text", "已通知物业"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let zh = stdout(&run(&zh_store, None, &["case", "show", &case]));
    assert!(zh.contains("经办：我"), "{zh}");
    assert!(zh.contains("内容：已通知物业"), "{zh}");
    assert!(!zh.contains("by me"), "{zh}");
    let en = stdout(&run(&zh_store, Some("en"), &["case", "show", &case]));
    assert!(
        en.contains("by me") && en.contains("text: 已通知物业"),
        "{en}"
    );
    assert!(!en.contains("经办"), "{en}");

    // The device's status and a household added.
    let zh = stdout(&run(&zh_store, None, &["device", "status"]));
    assert!(
        zh.contains("待上传的修改：") && zh.contains("被拒的修改："),
        "{zh}"
    );
    let en = stdout(&run(&zh_store, Some("en"), &["device", "status"]));
    assert!(
        en.contains("unsynced changes: ") && !en.contains("待上传"),
        "{en}"
    );
    let add = |lang: Option<&str>, unit: &str| {
        stdout(&run(
            &zh_store,
            lang,
            &[
                "household",
                "add",
                "--building",
                &building,
                "--unit",
                unit,
                "--kind",
                "出租",
            ],
        ))
    };
    assert!(add(None, "9-901").starts_with("住户 9-901 已添加："));
    assert!(add(Some("en"), "9-902").starts_with("household 9-902 added: "));
}

/// The binary's exit code, standard output and standard error.
fn outcome(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), stdout(out), stderr(out))
}

/// clap's usage errors, our own checks of a command line, `--help`'s headings and the core's
/// errors, all from the catalogue: Chinese by default, English with `--lang en` or
/// `GRIDWORK_LANG=en` (ADR 0039). Usage errors keep clap's exit code 2 and its usage line.
#[test]
fn usage_errors_help_and_core_errors_are_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let id = uuid::Uuid::now_v7().to_string();
    // (arguments, Chinese, English): each a usage error, exit code 2.
    let cases: [(Vec<&str>, &str, &str); 7] = [
        (
            // An id that is no UUID: our words, never the `uuid` crate's, and not the value
            // (here an ID number typed in the wrong place).
            vec!["case", "show", "110105194912310021"],
            "错误：参数 '<ID>' 的值不是有效的编号（UUID，",
            "error: the value of '<ID>' is no valid id (a UUID, ",
        ),
        (
            vec!["sync", "--bogus"],
            "错误：无法识别的参数 '--bogus'",
            "error: unexpected argument '--bogus'",
        ),
        (
            vec![
                "household",
                "add",
                "--building",
                "b",
                "--unit",
                "1",
                "--kind",
                "hotel",
            ],
            "错误：参数 '--kind <KIND>' 的值 'hotel' 无效：未知的值；可选：owner_occupied (自住)",
            "error: invalid value 'hotel' for '--kind <KIND>': unknown value; expected one of: owner_occupied (自住)",
        ),
        (
            vec!["hazard", "report", "--building", "b", "--title"],
            "错误：参数 '--title <TITLE>' 需要一个值",
            "error: a value is required for '--title <TITLE>' but none was supplied",
        ),
        (
            vec!["hazard", "report", "--title", "x"],
            "错误：缺少必需的参数：--building <BUILDING>",
            "error: the following required arguments were not provided: --building <BUILDING>",
        ),
        (
            vec!["case", "act", &id, "escalate"],
            "错误：步骤 `escalate` 需要 --level",
            "error: `escalate` needs --level",
        ),
        (
            vec!["case", "list", "--lang", "fr"],
            "错误：参数 '--lang <LANG>' 的值 'fr' 无效：请写 zh 或 en",
            "",
        ),
    ];
    for (args, zh, en) in cases {
        let (code, _, err) = outcome(&run(&store, None, &args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.starts_with(zh), "{args:?}:\n{err}");
        assert!(!err.contains("error:"), "{args:?}:\n{err}");
        assert!(!err.contains("110105194912310021"), "{args:?}:\n{err}");
        if en.is_empty() {
            continue;
        }
        for out in [
            run(&store, Some("en"), &args),
            run(&store, None, &[&args[..], &["--lang", "en"]].concat()),
        ] {
            let (code, _, err) = outcome(&out);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.starts_with(en), "{args:?}:\n{err}");
        }
    }
    // clap's usage line and where to read more, in the language.
    let (_, _, err) = outcome(&run(&store, None, &["sync", "--bogus"]));
    assert!(err.contains("\n\n用法：gridwork sync"), "{err}");
    assert!(
        err.trim_end().ends_with("更多信息请运行 '--help'。"),
        "{err}"
    );
    let (_, _, err) = outcome(&run(&store, Some("en"), &["sync", "--bogus"]));
    assert!(err.contains("\n\nUsage: gridwork sync"), "{err}");

    // --help: the headings and the help flag's own words; exit code 0.
    let (code, help, _) = outcome(&run(&store, None, &["case", "act", "--help"]));
    assert_eq!(code, Some(0));
    for words in ["用法：gridwork case act", "参数:", "选项:", "显示帮助"] {
        assert!(help.contains(words), "{words} in:\n{help}");
    }
    assert!(help.find("<ID>") < help.find("<ACTION>"), "{help}");
    let (code, help, _) = outcome(&run(&store, Some("en"), &["case", "act", "--help"]));
    assert_eq!(code, Some(0));
    for words in [
        "Usage: gridwork case act",
        "Arguments:",
        "Options:",
        "Print help",
    ] {
        assert!(help.contains(words), "{words} in:\n{help}");
    }
    let (_, help, _) = outcome(&run(&store, None, &["--help"]));
    assert!(
        help.contains("命令:") && help.contains("显示版本"),
        "{help}"
    );

    // The core's errors by their codes: a case not on this device, a sync before enrolling.
    let (code, _, err) = outcome(&run(&store, None, &["case", "show", &id]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("错误：无此案件（编号 {id}）")),
        "{err}"
    );
    let (_, _, err) = outcome(&run(&store, Some("en"), &["case", "show", &id]));
    assert!(
        err.starts_with(&format!("error: no case with id {id}")),
        "{err}"
    );
    let (code, _, err) = outcome(&run(&store, None, &["sync"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("错误：本设备尚未注册"), "{err}");
    // A key given for a store that is not encrypted: exit code 3.
    let key = dir.path().join("key");
    let (code, _, err) = outcome(&run(
        &store,
        None,
        &["device", "new-key", "--out", key.to_str().unwrap()],
    ));
    assert_eq!(code, Some(0), "{err}");
    let with_key = ["--key-file", key.to_str().unwrap(), "device", "status"];
    let (code, _, err) = outcome(&run(&store, None, &with_key));
    assert_eq!(code, Some(3), "{err}");
    // (SQLCipher writes its own lines to standard error first; ours is the last.)
    let last = |err: &str| err.trim().lines().last().unwrap_or_default().to_string();
    assert_eq!(last(&err), "错误：本机数据库未加密：打开时请不要给密钥");
    let (_, _, err) = outcome(&run(&store, Some("en"), &with_key));
    assert_eq!(
        last(&err),
        "error: the store is not encrypted: open it without a key"
    );
    // A file a flag names that cannot be read: the flag, the file and the reason in words.
    let missing = dir.path().join("no-such-key");
    let (code, _, err) = outcome(&run(
        &store,
        None,
        &["--key-file", missing.to_str().unwrap(), "device", "status"],
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("错误：--key-file：无法使用文件 ")
            && err.trim_end().ends_with("：文件不存在"),
        "{err}"
    );
}

/// The hidden `soak` command's refusals and `gridwork demo`'s failure, from the catalogue:
/// Chinese by default, English with `--lang en`.
#[test]
fn soak_and_demo_failures_are_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let area = uuid::Uuid::now_v7().to_string();
    let bad_tag = ["soak", "--area", &area, "--tag", "0", "--seed", "1"];
    let (code, _, err) = outcome(&run(&store, None, &bad_tag));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("错误：--tag 须是 1 到 9 的一位数字，--seed 须小于 1000"),
        "{err}"
    );
    let (_, _, err) = outcome(&run(&store, Some("en"), &bad_tag));
    assert!(
        err.starts_with("error: --tag is one digit 1-9 and --seed is below 1000"),
        "{err}"
    );
    // An area this device does not hold: the core's error by its code, in words.
    let unknown = ["soak", "--area", &area, "--tag", "1", "--seed", "1"];
    let (code, _, err) = outcome(&run(&store, None, &unknown));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("错误：无此区域（编号 {area}）")),
        "{err}"
    );

    // The demo cannot make its folder where a file is: the system's reason in words.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let demo = ["demo", "--data-dir", file.to_str().unwrap()];
    let (code, _, err) = outcome(&run(&store, None, &demo));
    assert_ne!(code, Some(0), "{err}");
    let last = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("错误：读写失败："), "{err}");
    assert!(!last.chars().any(|c| c.is_ascii_alphabetic()), "{err}");
    let (_, _, err) = outcome(&run(&store, Some("en"), &demo));
    let last = err.trim().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: "), "{err}");
    assert!(!last.contains("已存在"), "{err}");
}
