//! The web console over HTTP on both backends (`sqlite_backend::`, `postgres_backend::`):
//! console passwords and sessions as each backend keeps them, sign-in and its cookie, the
//! refusals (no session, wrong password, no CSRF token, another site's form), and a step taken
//! from the console going through the push planner in the signed-in user's name; the phones'
//! reported sync (last sync, unsynced count) kept per device and listed; a live alarm's line
//! timed from when it was raised. The browser story is `tests/e2e/console.rs`.

use gridwork_domain::model::AreaLevel;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use gridwork_server::console::auth;
use gridwork_server::storage::{ConsoleSession, DeviceStatus, Storage};

use crate::common::{Backend, Phone, TestServer, town};

const PASSWORD: &str = "long enough 密码";

async fn events_of<S: Storage>(
    s: &S,
    case: gridwork_domain::ids::Id,
) -> Vec<gridwork_domain::workflow::CaseEvent> {
    s.case_events(vec![case]).await.unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sessions_are_kept_touched_and_ended<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let s = &server.storage;
    let user = server.user("赵敏", Role::Dispatcher).await;
    assert_eq!(s.console_password(user).await.unwrap(), None);
    s.set_console_password(user, "hash-1".into(), 1)
        .await
        .unwrap();
    assert_eq!(
        s.console_password(user).await.unwrap().as_deref(),
        Some("hash-1")
    );
    let session = |token: &str, seen| ConsoleSession {
        token_hash: auth::hash_token(token),
        user,
        csrf: format!("csrf-{token}"),
        created_ms: 1_000,
        seen_ms: seen,
    };
    s.insert_console_session(session("a", 1_000)).await.unwrap();
    s.insert_console_session(session("b", 1_000)).await.unwrap();
    let got = s
        .console_session(auth::hash_token("a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, session("a", 1_000));
    // Touching moves the last-seen time forward only.
    s.touch_console_session(auth::hash_token("a"), 5_000)
        .await
        .unwrap();
    s.touch_console_session(auth::hash_token("a"), 4_000)
        .await
        .unwrap();
    assert_eq!(
        s.console_session(auth::hash_token("a"))
            .await
            .unwrap()
            .unwrap()
            .seen_ms,
        5_000
    );
    // Ending one session also clears those idle since before the bound ("b", seen at 1000).
    s.delete_console_session(auth::hash_token("a"), 2_000)
        .await
        .unwrap();
    assert_eq!(
        s.console_session(auth::hash_token("a")).await.unwrap(),
        None
    );
    assert_eq!(
        s.console_session(auth::hash_token("b")).await.unwrap(),
        None
    );
    // A new password ends every session of the user.
    s.insert_console_session(session("c", 9_000)).await.unwrap();
    s.set_console_password(user, "hash-2".into(), 2)
        .await
        .unwrap();
    assert_eq!(
        s.console_password(user).await.unwrap().as_deref(),
        Some("hash-2")
    );
    assert_eq!(
        s.console_session(auth::hash_token("c")).await.unwrap(),
        None
    );
}

async fn sign_in_refusals_and_a_step_through_the_planner<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 2);
    let pushed = server.push(&admin, &t.ops).await;
    assert!(pushed.results.iter().take(8).all(|r| !matches!(
        r.outcome,
        gridwork_domain::sync::PushOutcome::Rejected { .. }
    )));
    let sub = t
        .areas
        .iter()
        .find(|a| a.level == AreaLevel::Subdistrict)
        .unwrap()
        .id;
    let dispatcher = server
        .storage
        .create_user("赵敏".into(), Role::Dispatcher, vec![sub])
        .await
        .unwrap();
    server
        .storage
        .set_console_password(dispatcher.id, auth::hash_password(PASSWORD).unwrap(), 0)
        .await
        .unwrap();
    // A gridworker has no console, even with a password stored.
    let gridworker = server.user("王芳", Role::Gridworker).await;
    server
        .storage
        .set_console_password(gridworker, auth::hash_password(PASSWORD).unwrap(), 0)
        .await
        .unwrap();
    let http = no_redirects();

    // No session: to the sign-in page.
    let r = http.get(server.url("/console/board")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login?expired=1");
    let login = http.get(server.url("/console/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("调度员与管理员登录"));

    // A wrong password, an unknown name and a gridworker are refused alike.
    for (name, password) in [
        ("赵敏", "wrong password"),
        ("无此人", PASSWORD),
        ("王芳", PASSWORD),
    ] {
        let r = http
            .post(server.url("/console/login"))
            .form(&[("name", name), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name}");
        assert!(r.headers().get("set-cookie").is_none());
        assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    }

    // The dispatcher signs in: an HttpOnly, SameSite=Strict cookie (not Secure over HTTP).
    let r = http
        .post(server.url("/console/login"))
        .form(&[("name", "赵敏"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains("Path=/console")
    );
    assert!(!set.contains("Secure"));
    let cookie = set.split(';').next().unwrap().to_string();
    let board = http
        .get(server.url("/console/board"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(board.status(), 200);
    let html = board.text().await.unwrap();
    assert!(
        html.contains("督办大屏") && html.contains("楼道电瓶车充电"),
        "{html}"
    );
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..at + 64].to_string();

    let step = server.url(&format!("/console/cases/{}/step", t.hazard.id));
    let before = events_of(server.storage.as_ref(), t.hazard.id).await.len();
    // Without the session's CSRF token: refused.
    let r = http
        .post(&step)
        .header("cookie", &cookie)
        .form(&[("action", "note"), ("text", "x"), ("csrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // From another site's page (its Origin), even with the token: refused.
    let r = http
        .post(&step)
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .form(&[("action", "note"), ("text", "x"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        events_of(server.storage.as_ref(), t.hazard.id).await.len(),
        before
    );

    // A step from the console: stored through the planner, in the dispatcher's name.
    let r = http
        .post(&step)
        .header("cookie", &cookie)
        .header("origin", server.url(""))
        .form(&[
            ("action", "note"),
            ("text", "已电话联系楼长"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let after = events_of(server.storage.as_ref(), t.hazard.id).await;
    assert_eq!(after.len(), before + 1);
    let note = after
        .iter()
        .find(|e| matches!(&e.action, CaseAction::Note { text } if text == "已电话联系楼长"))
        .expect("the note is stored");
    assert_eq!(note.actor, Some(dispatcher.id));
    // The case page shows it in the timeline.
    let page = http
        .get(server.url(&format!("/console/cases/{}", t.hazard.id)))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已电话联系楼长") && page.contains("赵敏"));

    // The brief's exports.
    let csv = http
        .get(server.url("/console/brief.csv"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.text().await.unwrap().contains("梅花碑第一网格"));
    // The export is in the audit log, in the dispatcher's name.
    let audit = server.storage.all_audit().await.unwrap();
    assert!(
        audit.iter().any(
            |e| e.fact.action == gridwork_server::audit::AuditAction::Export
                && e.fact.actor == format!("console:user:{}", dispatcher.id)
        ),
        "{audit:?}"
    );

    // Signing out ends the session.
    let r = http
        .post(server.url("/console/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = http
        .get(server.url("/console/board"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

/// Signs `name` in with [`PASSWORD`]: the session cookie.
async fn sign_in<S: Backend>(server: &TestServer<S>, http: &reqwest::Client, name: &str) -> String {
    let r = http
        .post(server.url("/console/login"))
        .form(&[("name", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{name} signs in");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

/// A page's HTML with the session cookie.
async fn page<S: Backend>(
    server: &TestServer<S>,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> String {
    let r = http
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// A phone enrolled for a new user whose scope is `scope`.
async fn phone_in<S: Backend>(
    server: &TestServer<S>,
    name: &str,
    scope: gridwork_domain::ids::Id,
) -> Phone {
    let user = server
        .storage
        .create_user(name.into(), Role::Gridworker, vec![scope])
        .await
        .unwrap();
    let code = server.code(user.id).await;
    let device = uuid::Uuid::now_v7();
    let answer: gridwork_domain::sync::EnrollResponse = server
        .post(
            "/v1/enroll",
            None,
            &gridwork_domain::sync::EnrollRequest {
                code,
                device_id: device,
                device_name: format!("{name}的手机"),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    Phone::new(device, answer.token)
}

/// The `<tr>` of `#phones` whose first cell is `user`.
fn phone_row<'a>(html: &'a str, user: &str) -> &'a str {
    let at = html
        .find(&format!("<tr><td>{user}</td>"))
        .unwrap_or_else(|| panic!("{user} is listed: {html}"));
    let end = html[at..].find("</tr>").unwrap();
    &html[at..at + end]
}

/// The statuses storage keeps: the backend's own rules (a later time wins, a status without a
/// count keeps the count known).
async fn statuses_are_upserted_by_time<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let phone = server.phone("王芳", Role::Gridworker).await;
    let s = &server.storage;
    let at = |ms, unsynced| DeviceStatus {
        device: phone.device,
        synced_ms: ms,
        unsynced,
    };
    assert_eq!(s.device_statuses().await.unwrap(), vec![]);
    s.record_device_statuses(vec![at(1_000, Some(4))])
        .await
        .unwrap();
    assert_eq!(s.device_statuses().await.unwrap(), vec![at(1_000, Some(4))]);
    // A request without the header keeps the count known from before.
    s.record_device_statuses(vec![at(2_000, None)])
        .await
        .unwrap();
    assert_eq!(s.device_statuses().await.unwrap(), vec![at(2_000, Some(4))]);
    // A status older than the stored one (another server process's late write) changes nothing.
    s.record_device_statuses(vec![at(1_500, Some(9))])
        .await
        .unwrap();
    assert_eq!(s.device_statuses().await.unwrap(), vec![at(2_000, Some(4))]);
    s.record_device_statuses(vec![at(3_000, Some(0))])
        .await
        .unwrap();
    assert_eq!(s.device_statuses().await.unwrap(), vec![at(3_000, Some(0))]);
}

/// Phones report their unsynced count on their requests; the dispatcher's list of phones shows
/// each one's last sync and count (an old app's without count, a phone never synced as such),
/// written behind to storage and still there after a restart. A live fire alarm's line on the
/// board shows its time since raised against its arrival target, not a case deadline.
async fn phones_report_their_sync_and_alarms_run_from_raised<S: Backend>() {
    let mut server = TestServer::<S>::fresh().await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 2);
    server.push(&admin, &t.ops).await;
    let sub = t
        .areas
        .iter()
        .find(|a| a.level == AreaLevel::Subdistrict)
        .unwrap()
        .id;
    let grid = t.areas.last().unwrap().id;
    let dispatcher = server
        .storage
        .create_user("赵敏".into(), Role::Dispatcher, vec![sub])
        .await
        .unwrap();
    server
        .storage
        .set_console_password(dispatcher.id, auth::hash_password(PASSWORD).unwrap(), 0)
        .await
        .unwrap();
    let wang = phone_in(&server, "王芳", grid).await;
    let li = phone_in(&server, "李强", grid).await;
    let chen = phone_in(&server, "陈静", grid).await;

    // 王芳's app reports three changes waiting; 李强's older app reports nothing; 陈静's phone
    // never syncs. A count that is no number is refused.
    let pull = |phone: &Phone, unsynced: Option<&str>| {
        let mut req = server
            .http
            .get(server.url("/v1/pull?after=0&limit=10&wait=0"))
            .bearer_auth(&phone.token);
        if let Some(n) = unsynced {
            req = req.header("Gridwork-Unsynced", n);
        }
        req.send()
    };
    assert_eq!(pull(&wang, Some("3")).await.unwrap().status(), 200);
    assert_eq!(pull(&li, None).await.unwrap().status(), 200);
    let bad = pull(&wang, Some("many")).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("bad_header"));
    // A push reports it too.
    let push = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&wang.token)
        .header("Gridwork-Unsynced", "3")
        .json(&gridwork_domain::sync::PushRequest { ops: vec![] })
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), 200);

    let http = no_redirects();
    let cookie = sign_in(&server, &http, "赵敏").await;
    let html = page(&server, &http, &cookie, "/console/phones").await;
    assert!(
        html.contains("最近同步") && html.contains("待上传"),
        "{html}"
    );
    let row = phone_row(&html, "王芳");
    assert!(
        row.contains(">刚刚<") && row.contains("waiting\">3<"),
        "{row}"
    );
    let row = phone_row(&html, "李强");
    assert!(row.contains(">刚刚<") && row.contains(">未上报<"), "{row}");
    let row = phone_row(&html, "陈静");
    assert!(row.contains(">从未同步<") && row.contains(">—<"), "{row}");

    // Written behind: storage has them soon, without any further request.
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = server.storage.device_statuses().await.unwrap();
        let listed = |d| stored.iter().any(|s: &DeviceStatus| s.device == d);
        if listed(wang.device) && listed(li.device) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let of = |device| {
        stored
            .iter()
            .find(|s: &&DeviceStatus| s.device == device)
            .copied()
    };
    assert_eq!(of(wang.device).map(|s| s.unsynced), Some(Some(3)));
    assert_eq!(of(li.device).map(|s| s.unsynced), Some(None));
    assert_eq!(of(chen.device), None);

    // 王芳 syncs her outbox empty; the server stops at once (what is noted is written as it
    // stops) and the list after the restart shows the new count.
    assert_eq!(pull(&wang, Some("0")).await.unwrap().status(), 200);
    server.restart().await;
    let wang_now = server
        .storage
        .device_statuses()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.device == wang.device)
        .unwrap();
    assert_eq!(wang_now.unsynced, Some(0));
    let cookie = sign_in(&server, &http, "赵敏").await;
    let html = page(&server, &http, &cookie, "/console/phones").await;
    let row = phone_row(&html, "王芳");
    assert!(row.contains(">0<") && !row.contains("waiting"), "{row}");

    // A fire alarm raised 90 s ago: its line runs from when it was raised, against the target.
    let building = t.hazard.building_id;
    let alarm = gridwork_domain::model::Case {
        id: uuid::Uuid::now_v7(),
        kind: gridwork_domain::model::CaseKind::Alarm,
        title: "三楼闻到烟味".into(),
        category: "fire".into(),
        severity: gridwork_domain::model::Severity::Critical,
        area_id: grid,
        building_id: building,
        household_id: None,
        position: None,
        opened_at_ms: gridwork_server::clock::now_ms() - 90_000,
        patrol_id: None,
    };
    let op = admin.create(&alarm);
    server.push(&admin, &[op]).await;
    let html = page(&server, &http, &cookie, "/console/board/live").await;
    // Its line in the table of cases (the alarm strip above names it too).
    let table = html.find("id=\"cases\"").expect("the cases table");
    let at = table
        + html[table..]
            .find(&format!("data-case=\"{}\"", alarm.id))
            .unwrap_or_else(|| panic!("the alarm has a line: {html}"));
    let line = &html[at..at + html[at..].find("</tr>").unwrap()];
    assert!(
        line.contains("已过 01:3") && line.contains("目标") && line.contains("data-raised"),
        "{line}"
    );
    assert!(!line.contains("剩"), "{line}");
}

/// Runs `gridwork-server admin console-password` with `input` on standard input.
fn console_password(db: &std::path::Path, user: &str, input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::cli::BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .args(["admin", "console-password", "--db"])
        .arg(db)
        .args(["--user", user])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn the_binary_sets_console_passwords_and_serves_a_secure_cookie_over_tls() {
    use gridwork_server::storage::{AuditStorage, ConsoleStorage};
    use std::ffi::OsStr;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db_arg = db.to_str().unwrap();
    let (ok, admin_id, err) = crate::cli::admin(&[
        "admin",
        "create-user",
        "--db",
        db_arg,
        "--name",
        "孙丽",
        "--role",
        "管理员",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = crate::cli::admin(&[
        "admin",
        "create-user",
        "--db",
        db_arg,
        "--name",
        "王芳",
        "--role",
        "网格员",
    ]);
    assert!(ok, "{err}");
    // Too short, and a gridworker: refused, with the reason.
    let (ok, err) = console_password(&db, "孙丽", "short\n");
    assert!(!ok && err.contains("至少需要 10 个字符"), "{err}");
    let (ok, err) = console_password(&db, "王芳", "long enough password\n");
    assert!(!ok && err.contains("调度员或管理员"), "{err}");
    assert!(
        !err.contains("long enough password"),
        "the password is never echoed"
    );
    let (ok, err) = console_password(&db, "孙丽", "long enough password\n");
    assert!(ok, "{err}");
    let storage = gridwork_server::storage::SqliteStorage::open(&db).unwrap();
    let hash = storage
        .console_password(admin_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("long enough"));
    let audit = storage.all_audit().await.unwrap();
    assert!(audit.iter().any(|e| e.fact.action
        == gridwork_server::audit::AuditAction::AdminChange
        && e.fact.target_id.as_deref() == Some(admin_id.as_str())));
    drop(storage);

    // Served over TLS, the session cookie is Secure.
    let pki = crate::tls::TestPki::new();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let (_server, base) = crate::cli::serve::<&OsStr>(&[
        "--db".as_ref(),
        db.as_os_str(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = https
        .post(format!("{base}/console/login"))
        .form(&[("name", "孙丽"), ("password", "long enough password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("Secure") && set.contains("HttpOnly"), "{set}");
}

macro_rules! console_for {
    ($backend:ident, $storage:ty) => {
        mod $backend {
            #[tokio::test]
            async fn sessions_are_kept_touched_and_ended() {
                super::sessions_are_kept_touched_and_ended::<$storage>().await;
            }

            #[tokio::test]
            async fn sign_in_refusals_and_a_step_through_the_planner() {
                super::sign_in_refusals_and_a_step_through_the_planner::<$storage>().await;
            }

            #[tokio::test]
            async fn statuses_are_upserted_by_time() {
                super::statuses_are_upserted_by_time::<$storage>().await;
            }

            #[tokio::test]
            async fn phones_report_their_sync_and_alarms_run_from_raised() {
                super::phones_report_their_sync_and_alarms_run_from_raised::<$storage>().await;
            }
        }
    };
}

console_for!(sqlite_backend, gridwork_server::storage::SqliteStorage);
console_for!(postgres_backend, gridwork_server::storage::PgStorage);
