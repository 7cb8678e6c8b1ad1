//! What an operator runs the server with: `/readyz` that follows the storage (on both
//! backends), Prometheus metrics on an address of their own, JSON logs, every `serve` flag from
//! the environment or a configuration file, and a descriptor limit that a flood of idle
//! sockets cannot use up (the binary under `ulimit -n 256`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridwork_domain::sync::{ErrorBody, Role};
use gridwork_server::ServerOptions;
use gridwork_server::http::{RateLimit, RateLimits};
use gridwork_server::storage::PgStorage;
use serde_json::Value;
use uuid::Uuid;

use crate::cli::{BIN, Running, admin};
use crate::common::{TestServer, town};

async fn ready_status<S: crate::common::Backend>(server: &TestServer<S>) -> (u16, Value) {
    let res = reqwest::get(server.url("/readyz")).await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn readyz_follows_the_sqlite_file() {
    let server = TestServer::start().await;
    let (status, body) = ready_status(&server).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    // The database file is moved away (a botched deploy, a full disk's cleanup).
    let path = server.db_path();
    let aside = path.with_extension("aside");
    std::fs::rename(&path, &aside).unwrap();
    let (status, body) = ready_status(&server).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("not_ready")));
    // Liveness does not follow it: restarting the process would not bring the file back.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    std::fs::rename(&aside, &path).unwrap();
    assert_eq!(ready_status(&server).await.0, 200);
}

#[tokio::test]
async fn readyz_follows_the_postgresql_database() {
    let server = TestServer::<PgStorage>::fresh().await;
    assert_eq!(ready_status(&server).await.0, 200);
    // The database refuses connections (a failover, maintenance): its sessions are ended and
    // no new one is let in.
    let admin_url = std::env::var("GRIDWORK_TEST_DATABASE_URL").unwrap();
    let (admin, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let name = database_name(&server);
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    admin
        .batch_execute(&format!("ALTER DATABASE {quoted} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let (status, body) = ready_status(&server).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("not_ready")));
    admin
        .batch_execute(&format!("ALTER DATABASE {quoted} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready_status(&server).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "ready again once the database is back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn database_name(server: &TestServer<PgStorage>) -> String {
    // `user@host:port/database`
    server
        .storage
        .target()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// The value of the series `name{labels}` (labels in the exporter's order) in a scrape.
fn series(scrape: &str, name_and_labels: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name_and_labels)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

#[tokio::test]
async fn metrics_count_requests_operations_refusals_and_waiting_polls() {
    let server = TestServer::start_with(ServerOptions {
        rate_limits: RateLimits {
            device: Some(RateLimit::new(12, 1.0 / 60.0)),
            enroll: None,
        },
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..ServerOptions::default()
    })
    .await;
    let metrics_url = format!(
        "http://{}/metrics",
        server.handle.as_ref().unwrap().metrics_addr().unwrap()
    );
    let scrape = || async {
        reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    let mut phone = server.phone("张伟", Role::Admin).await;
    let ops = town(&mut phone, 2).ops;
    server.push(&phone, &ops).await;
    // One operation refused: another device's stamp.
    let mut stranger = crate::common::Phone::offline();
    let forged = town(&mut stranger, 1).ops.remove(0);
    server.push(&phone, &[forged]).await;
    // A long poll waits while we look.
    let cursor = server.pull(&phone, 0, 1000, 0).await.next;
    let waiting = {
        let http = server.http.clone();
        let url = server.url(&format!("/v1/pull?after={cursor}&wait=3"));
        let token = phone.token.clone();
        tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = scrape().await;
    assert_eq!(
        series(&during, "gridwork_long_polls_waiting"),
        Some(1.0),
        "{during}"
    );
    assert_eq!(waiting.await.unwrap().status(), 200);
    // The device's bucket runs dry.
    let mut limited = 0;
    for _ in 0..12 {
        if server.get("/v1/pull?after=0", &phone.token).await.status() == 429 {
            limited += 1;
        }
    }
    assert!(limited > 0);

    let text = scrape().await;
    let get = |s: &str| series(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(
        get(r#"gridwork_http_requests_total{route="/v1/push",status="200"}"#),
        2.0
    );
    assert_eq!(
        get(r#"gridwork_http_requests_total{route="/v1/enroll",status="200"}"#),
        1.0
    );
    assert_eq!(
        get(r#"gridwork_http_requests_total{route="/v1/pull?wait",status="200"}"#),
        1.0
    );
    assert_eq!(
        get(r#"gridwork_http_requests_total{route="/v1/pull",status="429"}"#),
        limited as f64
    );
    assert_eq!(
        get(r#"gridwork_rate_limited_total{limit="device"}"#),
        limited as f64
    );
    assert_eq!(get("gridwork_pushes_total"), 2.0);
    assert_eq!(
        get(r#"gridwork_push_operations_total{outcome="accepted",reason="none"}"#),
        ops.len() as f64
    );
    assert_eq!(
        get(r#"gridwork_push_operations_total{outcome="rejected",reason="wrong_device"}"#),
        1.0
    );
    assert_eq!(get("gridwork_long_polls_waiting"), 0.0);
    // The admin reads the whole log (no bucket): every operation once, plus the ones read to
    // tell whether more follow.
    assert!(get(r#"gridwork_storage_rows_read_total{table="log"}"#) >= ops.len() as f64);
    assert_eq!(
        get("gridwork_long_polls_woken_total"),
        0.0,
        "nothing was pushed while the poll waited"
    );
    assert!(
        get(r#"gridwork_http_request_duration_seconds_count{route="/v1/push",status="200"}"#)
            >= 2.0
    );
    assert!(text.contains(r#"gridwork_http_request_duration_seconds_bucket{route="/v1/push",status="200",le="0.1"}"#), "{text}");
    // SQLite: the writer and its 8 readers (ADR 0031).
    assert_eq!(get(r#"gridwork_storage_connections{state="max"}"#), 9.0);
    assert_eq!(get("gridwork_storage_ready"), 1.0);
    assert!(get(r#"gridwork_connections_max{listener="sync"}"#) >= 1.0);
    assert!(text.contains("# HELP gridwork_push_operations_total"));

    // Phones cannot read them: the sync port has no /metrics.
    assert_eq!(
        reqwest::get(server.url("/metrics")).await.unwrap().status(),
        404
    );
}

/// Starts the binary with `args` and `envs`, stderr to a pipe; returns it with the lines it
/// printed on stdout until `listening on` and `metrics on` (when asked for).
fn start_binary(args: &[&str], envs: &[(&str, &str)], metrics: bool) -> (Running, Vec<String>) {
    let mut child = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .envs(envs.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    for _ in 0..if metrics { 2 } else { 1 } {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        lines.push(line.trim().to_string());
    }
    (running, lines)
}

#[tokio::test]
async fn serve_takes_its_flags_from_a_file_and_the_environment_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let config = dir.path().join("gridwork.toml");
    // The file says a port that is taken; the environment overrides it with a free one.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        &config,
        format!(
            "db = {db:?}\nlisten = \"{}\"\nmetrics-listen = \"127.0.0.1:0\"\nlog-format = \"json\"\n\
             trusted-proxy = [\"10.0.0.0/24\", \"127.0.0.1\"]\nheader-read-timeout = 5\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    let (mut running, lines) = start_binary(
        &["serve", "--config", config.to_str().unwrap()],
        &[("GRIDWORK_LISTEN", "127.0.0.1:0"), ("RUST_LOG", "info")],
        true,
    );
    let base = lines[0]
        .strip_prefix("listening on ")
        .expect(&lines[0])
        .to_string();
    let metrics = lines[1]
        .strip_prefix("metrics on ")
        .expect(&lines[1])
        .to_string();
    assert_ne!(base, format!("http://{}", taken.local_addr().unwrap()));
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let scrape = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    assert!(scrape.contains("gridwork_build_info"), "{scrape}");
    // The file's database was used: an admin command on it sees the same users.
    let (ok, user, _) = admin(&[
        "admin",
        "create-user",
        "--db",
        db.to_str().unwrap(),
        "--name",
        "王芳",
        "--role",
        "admin",
    ]);
    assert!(ok);
    Uuid::parse_str(&user).unwrap();

    // Stop it and read its log: every line one JSON object, none naming the user.
    let child = &mut running.0;
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 4, "{stderr}");
    let mut messages = Vec::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        messages.push(
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert!(
        messages.iter().any(|m| m == "connection limits"),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m == "serving"), "{messages:?}");
    assert!(!stderr.contains("王芳"));
}

#[test]
fn a_bad_config_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gridwork.toml");
    std::fs::write(&config, "db = \"x.db\"\nlisen = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lisen`") && err.contains("listen"), "{err}");
    // A value of the wrong kind is checked as the flag would be.
    std::fs::write(&config, "db = \"x.db\"\nmax-connections = \"many\"\n").unwrap();
    let out = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-connections"), "{err}");
}

/// The descriptor limit of a busy machine's default: 256. Three hundred sockets that never send
/// a byte must neither take the server down nor keep `/healthz` from answering for long.
#[tokio::test]
async fn three_hundred_idle_sockets_do_not_lock_out_a_server_with_256_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let script = format!(
        "ulimit -n 256 && exec {BIN} serve --db {} --listen 127.0.0.1:0 --header-read-timeout 1",
        db.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .env_remove("GRIDWORK_DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect(&line)
        .parse()
        .unwrap();

    let outcome = tokio::task::spawn_blocking(move || {
        let idle: Vec<TcpStream> = (0..300)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut refused = 0;
        loop {
            let answer = TcpStream::connect(addr).ok().and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
                s.write_all(b"GET /healthz HTTP/1.1\r\nhost: g\r\nconnection: close\r\n\r\n")
                    .ok()?;
                let mut got = String::new();
                s.read_to_string(&mut got).ok()?;
                Some(got)
            });
            match answer.as_deref().and_then(|a| a.split_whitespace().nth(1)) {
                Some("200") => return (true, refused, idle.len()),
                Some("503") => refused += 1,
                _ => {}
            }
            if Instant::now() > deadline {
                return (false, refused, idle.len());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .unwrap();
    drop(running);
    let mut log = String::new();
    BufReader::new(stderr).read_to_string(&mut log).unwrap();
    assert!(
        outcome.0,
        "/healthz answered while {} idle sockets were open ({} clear refusals first)\n{log}",
        outcome.2, outcome.1
    );
    // The log says what the server can hold.
    assert!(log.contains("max_connections=96"), "{log}");
    assert!(log.contains("descriptor_limit=256"), "{log}");
}

#[tokio::test]
async fn an_error_body_comes_with_the_refusal_of_a_body_that_stalls() {
    let server = TestServer::start_with(ServerOptions {
        connections: gridwork_server::server::ConnectionLimits {
            body_idle_timeout: Duration::from_millis(300),
            ..Default::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let addr = server.handle.as_ref().unwrap().local_addr();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(
            b"POST /v1/enroll HTTP/1.1\r\nhost: g\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"code\":",
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body: ErrorBody = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body.error, "body_timeout");
}
