//! The `gridwork-server` binary as an admin uses it: create a user, make a code, serve on a
//! free port, enroll, list and revoke devices; on SQLite (`--db`) and on PostgreSQL
//! (`--database`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use gridwork_domain::sync::{EnrollRequest, EnrollResponse};
use gridwork_server::storage::postgres::ScratchDatabase;
use uuid::Uuid;

pub const BIN: &str = env!("CARGO_BIN_EXE_gridwork-server");

pub fn admin(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .env_remove("GRIDWORK_LANG")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Kills the server process when the test ends, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `gridwork-server serve ARGS --listen 127.0.0.1:0` and returns it with the base URL it
/// prints.
pub fn serve<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Running, String) {
    let mut child = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("prints where it listens")
        .to_string();
    (running, base)
}

#[tokio::test]
async fn an_admin_sets_up_a_phone_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    sets_up_a_phone(["--db", db.to_str().unwrap()]).await;
}

#[tokio::test]
async fn an_admin_sets_up_a_phone_on_postgresql() {
    let db = ScratchDatabase::for_test().await;
    sets_up_a_phone(["--database", db.url()]).await;
}

/// The whole admin story over `store` (`--db PATH` or `--database URL`).
async fn sets_up_a_phone(store: [&str; 2]) {
    let [flag, db] = store;
    // The area the user works in must exist: an admin creates it (or imports it).
    let (ok, created, err) = admin(&[
        "area",
        "create",
        flag,
        db,
        "--code",
        "330106",
        "--name",
        "西湖区",
        "--level",
        "区",
    ]);
    assert!(ok, "{err}");
    let grid = created.split('\t').next().unwrap().to_string();

    let (ok, user, err) = admin(&[
        "admin",
        "create-user",
        flag,
        db,
        "--name",
        "张伟",
        "--role",
        "gridworker",
        "--scope",
        "330106",
    ]);
    assert!(ok, "{err}");
    let user: Uuid = user.parse().expect("prints the user id");
    let (ok, code, err) = admin(&[
        "admin",
        "enrollment-code",
        flag,
        db,
        "--user",
        &user.to_string(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(code.len(), 14, "{code}");

    let (_server, base) = serve(&[flag, db]);

    let device = Uuid::now_v7();
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/v1/enroll"))
        .json(&EnrollRequest {
            code,
            device_id: device,
            device_name: "张伟的手机".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let enrolled: EnrollResponse = res.json().await.unwrap();
    assert_eq!(enrolled.scope, vec![grid.parse::<Uuid>().unwrap()]);

    let (ok, listed, _) = admin(&["admin", "list-devices", flag, db]);
    assert!(ok);
    assert!(
        listed.contains(&device.to_string()) && listed.contains("\t在用\t"),
        "{listed}"
    );
    let (_, listed, _) = admin(&["admin", "list-devices", flag, db, "--lang", "en"]);
    assert!(listed.contains("\tactive\t"), "{listed}");

    // Revoked from the command line while the server runs: the next request is refused.
    let (ok, _, err) = admin(&[
        "admin",
        "revoke-device",
        flag,
        db,
        "--device",
        &device.to_string(),
    ]);
    assert!(ok, "{err}");
    let res = http
        .get(format!("{base}/v1/pull"))
        .bearer_auth(&enrolled.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[test]
fn bad_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let flag = "--db";
    let (ok, _, err) = admin(&[
        "admin",
        "create-user",
        flag,
        db,
        "--name",
        "x",
        "--role",
        "boss",
    ]);
    assert!(!ok);
    assert!(
        err.contains("未知的值") && err.contains("gridworker"),
        "{err}"
    );
    let (ok, _, err) = admin(&["admin", "enrollment-code", flag, db, "--user", "not-an-id"]);
    assert!(!ok);
    assert!(err.contains("--user"), "{err}");
    let (ok, _, err) = admin(&[
        "admin",
        "enrollment-code",
        flag,
        db,
        "--user",
        &Uuid::now_v7().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("错误：") && err.contains("无此用户"), "{err}");
    let (ok, _, err) = admin(&[
        "admin",
        "revoke-device",
        flag,
        db,
        "--device",
        &Uuid::now_v7().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("错误：无此设备"), "{err}");
    let (_, _, err) = admin(&[
        "admin",
        "revoke-device",
        flag,
        db,
        "--device",
        &Uuid::now_v7().to_string(),
        "--lang",
        "en",
    ]);
    assert!(err.contains("error: no device"), "{err}");
}

#[test]
fn the_database_is_given_by_exactly_one_of_db_and_database() {
    let (ok, _, err) = admin(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(err.contains("--db") && err.contains("--database"), "{err}");
    let (ok, _, err) = admin(&[
        "admin",
        "list-devices",
        "--db",
        "server.db",
        "--database",
        "postgres://gridwork@127.0.0.1/city",
    ]);
    assert!(!ok);
    assert!(err.contains("不能与"), "{err}");
}

#[test]
fn an_unreachable_postgresql_server_is_named_without_its_password() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://gridwork:s3cret@127.0.0.1:{port}/city");
    for args in [
        vec!["admin", "list-devices", "--database", &url],
        vec!["serve", "--database", &url, "--listen", "127.0.0.1:0"],
    ] {
        let (ok, _, err) = admin(&args);
        assert!(!ok);
        assert!(
            err.contains(&format!(
                "无法连接 PostgreSQL 数据库 gridwork@127.0.0.1:{port}/city"
            )),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
    let (ok, _, err) = admin(&[
        "admin",
        "list-devices",
        "--database",
        "postgres://x:notaport",
    ]);
    assert!(!ok);
    assert!(err.contains("数据库地址无效"), "{err}");
}

/// `gridwork-server` with `args` and `GRIDWORK_LANG` set to `lang` (or removed): its exit code,
/// standard output and standard error.
fn operator(lang: Option<&str>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("GRIDWORK_DATABASE_URL")
        .env_remove("GRIDWORK_CONFIG")
        .args(args);
    match lang {
        Some(l) => cmd.env("GRIDWORK_LANG", l),
        None => cmd.env_remove("GRIDWORK_LANG"),
    };
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The operator's usage, configuration and scope errors and `--help`'s headings from the
/// catalogue: Chinese by default, English with `--lang en` or `GRIDWORK_LANG=en` (ADR 0039).
/// clap's usage errors and a bad configuration file exit 2.
#[test]
fn operator_errors_and_help_are_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let bad_key = dir.path().join("bad.toml");
    std::fs::write(&bad_key, "colour = \"red\"\n").unwrap();
    let bad_key = bad_key.to_str().unwrap();
    // (arguments, exit code, Chinese, English)
    let cases: [(Vec<&str>, i32, &str, &str); 7] = [
        (
            vec!["admin", "list-devices", "--db", db, "--bogus"],
            2,
            "错误：无法识别的参数 '--bogus'",
            "error: unexpected argument '--bogus'",
        ),
        (
            vec![
                "admin",
                "create-user",
                "--db",
                db,
                "--name",
                "x",
                "--role",
                "boss",
            ],
            2,
            "错误：参数 '--role <ROLE>' 的值 'boss' 无效：未知的值；可选：gridworker (网格员)",
            "error: invalid value 'boss' for '--role <ROLE>': unknown value; expected one of: gridworker (网格员)",
        ),
        (
            vec!["serve", "--db", db, "--config", missing],
            2,
            "错误：无法读取配置文件 ",
            "error: cannot read the configuration file ",
        ),
        (
            vec!["serve", "--db", db, "--config", bad_key],
            2,
            "错误：配置文件中的 `colour` 不是 `serve` 的参数；可用的有：",
            "error: `colour` in the configuration file is not a flag of `serve`; known: ",
        ),
        (
            vec![
                "admin",
                "create-user",
                "--db",
                db,
                "--name",
                "王芳",
                "--role",
                "gridworker",
                "--scope",
                "330106001001001",
            ],
            1,
            "错误：--scope：第 1 项不是服务器上已有的区域、楼栋或微型消防站",
            "error: --scope: entry 1 names no area, building or station the server holds",
        ),
        (
            vec![
                "admin",
                "set-scope",
                "--db",
                db,
                "--user",
                "01890000-0000-7000-8000-000000000000",
                "--scope",
                "",
            ],
            1,
            "错误：无此用户 01890000-0000-7000-8000-000000000000",
            "error: no user 01890000-0000-7000-8000-000000000000",
        ),
        (
            vec![
                "area",
                "move-buildings",
                "--db",
                db,
                "--to",
                "330106001001001",
            ],
            1,
            "错误：没有编码为 330106001001001 的区域",
            "error: no area has the code 330106001001001",
        ),
    ];
    for (args, code, zh, en) in cases {
        let (got, _, err) = operator(None, &args);
        assert_eq!(got, Some(code), "{args:?}: {err}");
        assert!(err.starts_with(zh), "{args:?}:\n{err}");
        assert!(!err.contains("error:"), "{args:?}:\n{err}");
        for (lang, extra) in [(Some("en"), vec![]), (None, vec!["--lang", "en"])] {
            let args = [&args[..], &extra[..]].concat();
            let (got, _, err) = operator(lang, &args);
            assert_eq!(got, Some(code), "{args:?}: {err}");
            assert!(err.starts_with(en), "{args:?}:\n{err}");
        }
    }
    // The missing file's reason in words, never the system's English.
    let (_, _, err) = operator(None, &["serve", "--db", db, "--config", missing]);
    assert!(err.trim_end().ends_with("：文件不存在"), "{err}");
    // The usage line in the language.
    let (_, _, err) = operator(None, &["admin", "list-devices", "--db", db, "--bogus"]);
    assert!(
        err.contains("\n\n用法：gridwork-server admin list-devices"),
        "{err}"
    );

    // --help's headings.
    let (code, help, _) = operator(None, &["admin", "--help"]);
    assert_eq!(code, Some(0));
    for words in ["用法：gridwork-server admin", "命令:", "选项:", "显示帮助"] {
        assert!(help.contains(words), "{words} in:\n{help}");
    }
    let (_, help, _) = operator(Some("en"), &["admin", "--help"]);
    for words in [
        "Usage: gridwork-server admin",
        "Commands:",
        "Options:",
        "Print help",
    ] {
        assert!(help.contains(words), "{words} in:\n{help}");
    }

    // An import's refused row: the importer's reason in the language, on the terminal and in
    // the report file.
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(
        files.join("区域.csv"),
        "区域编码,区域名称,层级,上级编码\n330105012,祥符街道,街道,330199\n\
         330107,上城区,区,\n330107,上城区,区,\n330108,滨江区,省,\n",
    )
    .unwrap();
    let report = dir.path().join("report.csv");
    let import = [
        "import",
        "--db",
        db,
        "--dry-run",
        files.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let (code, out, _) = operator(None, &import);
    assert_eq!(code, Some(1));
    // A fixed reason, and the reasons that carry a value (a row number, the accepted values):
    // each in the language, none in English under Chinese.
    let reasons_zh = [
        "没有这个编码的区域（上级区域须排在前面，或已存入）",
        "同一条记录已在 区域.csv 的第 3 行",
        "未知的值；可选：区 (district)、街道 (subdistrict)",
    ];
    let file = std::fs::read_to_string(&report).unwrap();
    for zh in reasons_zh {
        assert!(out.contains(zh), "{zh} in:\n{out}");
        assert!(file.contains(zh), "{zh} in:\n{file}");
    }
    for english in ["unknown value", "same record", "no area has"] {
        assert!(!out.contains(english), "{english} in:\n{out}");
        assert!(!file.contains(english), "{english} in:\n{file}");
    }
    let (_, out, _) = operator(Some("en"), &import);
    let file = std::fs::read_to_string(&report).unwrap();
    for en in [
        "no area has this code (the area above must come first, or be stored)",
        "the same record is already on row 3 of 区域.csv",
        "unknown value; use one of district (区), subdistrict (街道)",
    ] {
        assert!(out.contains(en), "{en} in:\n{out}");
        assert!(file.contains(en), "{en} in:\n{file}");
    }
}

/// A listing piped into a reader that has gone (`gridwork-server area list … | head`) ends
/// quietly with exit code 0, never a panic.
#[test]
fn a_closed_pipe_ends_an_operator_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/xiangfu");
    let (code, _, err) = operator(None, &["import", "--db", db.to_str().unwrap(), sample]);
    assert_eq!(code, Some(0), "{err}");
    // The reader (`true`) is gone before the first line is written.
    let script = format!(
        "for i in 1 2 3; do \
           '{bin}' area list --db '{db}' | true; echo \"exit ${{PIPESTATUS[0]}}\"; \
           '{bin}' audit list --db '{db}' | true; echo \"exit ${{PIPESTATUS[0]}}\"; \
         done",
        bin = BIN,
        db = db.display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env_remove("GRIDWORK_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stdout.matches("exit 0").count(), 6, "{stdout}\n{stderr}");
}
