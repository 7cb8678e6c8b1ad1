//! The README's "as a device" walkthrough, run exactly as written: its two `sh` blocks are read
//! from README.md and run by bash in a fresh folder holding the sample subdistrict, with the
//! real `gridwork-server` and `gridwork` binaries first on the PATH (the server on a free port
//! instead of 8080). From an empty server to four enrolled phones working a day.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `sh` block after `<!-- walkthrough: NAME -->` in the README.
fn block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- walkthrough: {name} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in README.md"));
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = rest[start..].find("```").expect("its end");
    rest[start..start + end].to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The folder of the built binaries, with `gridwork-server` built if this test run did not.
fn binaries() -> PathBuf {
    let gridwork = PathBuf::from(env!("CARGO_BIN_EXE_gridwork"));
    let dir = gridwork.parent().unwrap().to_path_buf();
    if !dir.join("gridwork-server").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "gridwork-server", "--bin", "gridwork-server"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cargo build -p gridwork-server");
    }
    dir
}

fn bash(dir: &Path, path: &str, script: &str) -> (bool, String) {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("GRIDWORK_STORE")
        .env_remove("GRIDWORK_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_walkthrough_takes_an_empty_server_to_phones_working_a_day() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let server_block = block(&readme, "server").replace("127.0.0.1:8080", &address);
    let phones_block = block(&readme, "phones").replace("127.0.0.1:8080", &address);

    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/xiangfu"),
        &dir.path().join("samples/xiangfu"),
    );
    let bin = binaries();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The admin's commands, then the server in the background as a second terminal would.
    let (admin_lines, serve_lines): (Vec<&str>, Vec<&str>) = server_block
        .lines()
        .partition(|l| !l.trim_start().starts_with("gridwork-server serve"));
    let (ok, out) = bash(dir.path(), &path, &admin_lines.join("\n"));
    assert!(ok, "{out}");
    assert!(out.contains("试运行"), "the dry run says so: {out}");
    assert!(out.contains("居民：新建 102"), "{out}");
    assert!(out.contains("330105012 祥符街道"), "the tree: {out}");
    assert_eq!(serve_lines.len(), 1);
    let mut child = Command::new("bash")
        .args(["-c", &format!("exec {}", serve_lines[0])])
        .current_dir(dir.path())
        .env("PATH", &path)
        .env_remove("GRIDWORK_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Serving(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");

    // The phones' day.
    let (ok, out) = bash(dir.path(), &path, &phones_block);
    assert!(ok, "{out}");
    assert!(
        out.contains("刘洋"),
        "the unregistered tenant is listed: {out}"
    );
    assert!(out.contains("入住登记"), "{out}");
    assert!(
        out.contains("申慧社区微型消防站"),
        "the station list: {out}"
    );

    // What the dispatcher's phone holds at the end: the alarm reached, the patrol's hazard,
    // the 12345 case, each from another phone or its own.
    let gridwork = |store: &str, args: &[&str]| {
        let o = Command::new(bin.join("gridwork"))
            .current_dir(dir.path())
            .args(["--store", store, "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let cases = gridwork("zhao.db", &["case", "list"]);
    let titles: Vec<&str> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"]["title"].as_str().unwrap())
        .collect();
    for title in ["闻到烟味", "电动车楼道充电", "路灯不亮"] {
        assert!(titles.contains(&title), "{title} in {titles:?}");
    }
    let alarm = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"]["title"] == "闻到烟味")
        .unwrap();
    assert_eq!(alarm["fold"]["state"], "on_scene", "{alarm}");
    let hazard = cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"]["title"] == "电动车楼道充电")
        .unwrap();
    assert_eq!(hazard["case"]["kind"], "hazard");
    assert_eq!(hazard["case"]["severity"], "high", "高 typed in Chinese");
    // The building head's check-in reached the gridworker's phone.
    let wang_sync = Command::new(bin.join("gridwork"))
        .current_dir(dir.path())
        .args(["--store", "wang.db", "sync"])
        .output()
        .unwrap();
    assert!(wang_sync.status.success());
    let unregistered = gridwork(
        "wang.db",
        &["tenant", "unregistered", "--area", "330105012001001"],
    );
    assert!(
        !unregistered.to_string().contains("刘洋"),
        "registered now: {unregistered}"
    );
    let household = gridwork(
        "wang.db",
        &["household", "list", "--building", "3301050120010010001"],
    );
    let room = household
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["unit"] == "3-101")
        .unwrap();
    assert_eq!(room["kind"], "rental", "出租 typed in Chinese");

    // A key-group visit takes the resident off the overdue list.
    let overdue = gridwork(
        "wang.db",
        &["key-group", "overdue", "--area", "330105012001001"],
    );
    let first = overdue
        .as_array()
        .unwrap()
        .first()
        .expect("someone to visit");
    let resident = first["due"]["resident_id"].as_str().unwrap().to_string();
    gridwork("wang.db", &["key-group", "visit", "--resident", &resident]);
    let overdue = gridwork(
        "wang.db",
        &["key-group", "overdue", "--area", "330105012001001"],
    );
    assert!(!overdue.to_string().contains(&resident), "{overdue}");
    // The crew's own work: the alarm dispatched to its station, until it is resolved.
    let mine = gridwork("chen.db", &["case", "list", "--mine"]);
    assert!(mine.to_string().contains("闻到烟味"), "{mine}");
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    // The reader (`true`) is gone before the listing writes its first line: every write
    // meets a closed pipe, as `gridwork --json building list | head` does after ten lines.
    let script = format!(
        "'{bin}' --store '{store}' device status >/dev/null; \
         for i in 1 2 3 4 5; do \
           '{bin}' --store '{store}' --json station list | true; \
           echo \"exit ${{PIPESTATUS[0]}}\"; \
           '{bin}' --store '{store}' case list | true; \
           echo \"exit ${{PIPESTATUS[0]}}\"; \
         done",
        bin = env!("CARGO_BIN_EXE_gridwork"),
        store = store.display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stdout.matches("exit 0").count(), 10, "{stdout}\n{stderr}");
}
