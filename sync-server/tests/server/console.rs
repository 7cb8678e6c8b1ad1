//! The web console over HTTP on both backends (`sqlite_backend::`, `postgres_backend::`):
//! console passwords and sessions as each backend keeps them, sign-in and its cookie, the
//! refusals (no session, wrong password, no CSRF token, another site's form), and a step taken
//! from the console going through the push planner in the signed-in user's name. The browser
//! story is `tests/e2e/console.rs`.

use gridwork_domain::model::AreaLevel;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use gridwork_server::console::auth;
use gridwork_server::storage::{ConsoleSession, Storage};

use crate::common::{Backend, TestServer, town};

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
    assert!(!ok && err.contains("at least 10 characters"), "{err}");
    let (ok, err) = console_password(&db, "王芳", "long enough password\n");
    assert!(!ok && err.contains("dispatcher"), "{err}");
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
        }
    };
}

console_for!(sqlite_backend, gridwork_server::storage::SqliteStorage);
console_for!(postgres_backend, gridwork_server::storage::PgStorage);
