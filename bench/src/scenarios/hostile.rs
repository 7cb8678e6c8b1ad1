//! Hostile clients against the real server process: what each kind of misbehaving connection
//! costs the server in memory, how many it can hold, and how fast it is refused. The server is
//! the `gridwork-server` command line run in a process of its own (this binary's hidden
//! `server` subcommand runs the very code of the binary), so its memory is read alone from
//! `/proc/PID/status`: `VmRSS` now, `VmHWM` the peak since `clear_refs` was last told to reset
//! it. Nothing here is asserted: the structural bounds (refused before the body is read,
//! closed, capped) are the tests' (`sync-server/tests/server/hostile.rs`); this measures them.
//!
//! Two servers: one with a short header timeout (2 s) and an enrollment limit of one attempt
//! (for idle and slow sockets, locked-out enrollments and pushes), one with a long timeout and
//! a small cap (for the flood over the cap).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwork_domain::sync::{MAX_PUSH_OPS, PushRequest, Role};
use gridwork_server::storage::{SqliteStorage, Storage};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::Config;
use crate::dataset::{Writer, now_ms, subdistrict};
use crate::report::{Figure, ScenarioResult, Target};

/// The server process and what is needed to watch it.
struct ServerProcess {
    child: Child,
    pid: u32,
    addr: String,
}

impl ServerProcess {
    async fn start(db: &Path, extra: &[&str]) -> ServerProcess {
        let exe = std::env::current_exe().expect("the harness's own path");
        let mut child = Command::new(exe)
            .arg("server")
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", "127.0.0.1:0", "--device-per-minute", "0"])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server process starts");
        let pid = child.id().expect("a pid");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .await
            .expect("the server says where it listens");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        ServerProcess { child, pid, addr }
    }

    /// `VmRSS` (or `VmHWM`) in bytes.
    fn memory(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    fn rss(&self) -> u64 {
        self.memory("VmRSS:")
    }

    /// Resets the peak to now; returns the current RSS.
    fn reset_peak(&self) -> u64 {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
        self.rss()
    }

    fn peak(&self) -> u64 {
        self.memory("VmHWM:")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Reads until the server closes or `within` passes: the bytes and whether it closed.
async fn until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

fn status_of(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(cfg: &Config) -> ScenarioResult {
    let idle_n: usize = cfg.pick(1_000, 50);
    let slow_n: usize = cfg.pick(200, 20);
    let cap: usize = cfg.pick(500, 40);
    let over: usize = cfg.pick(200, 10);
    let held_bodies: usize = cfg.pick(32, 4);
    let header_timeout_s = 2.0;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("server.db");

    // A device and a token, made on the database before the server opens it.
    let token = {
        let storage = SqliteStorage::open(&db).expect("storage");
        let user = storage
            .create_user("调度员".into(), Role::Admin, vec![])
            .await
            .expect("a user");
        let code = storage
            .create_enrollment_code(user.id, now_ms())
            .await
            .expect("a code");
        storage
            .enroll(code, gridwork_core::new_id(), "bench".into(), now_ms())
            .await
            .expect("enrolled")
            .token
    };

    let server = ServerProcess::start(
        &db,
        &[
            "--header-read-timeout",
            "2",
            "--enroll-burst",
            "1",
            "--enroll-per-minute",
            "0.001",
            "--max-connections",
            "5000",
        ],
    )
    .await;
    let addr = server.addr.clone();
    let http = reqwest_free_get(&addr, "/healthz").await;
    assert_eq!(http, 200, "the server answers");
    let base_rss = server.rss();

    // 1. Sockets that never send a byte.
    let before = server.rss();
    let mut idle = Vec::with_capacity(idle_n);
    for _ in 0..idle_n {
        if let Ok(s) = TcpStream::connect(&addr).await {
            idle.push((s, Instant::now()));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_per_conn = server.rss().saturating_sub(before) as f64 / idle.len().max(1) as f64;
    let closes = futures_join(idle.into_iter().map(|(mut s, opened)| async move {
        let (_, closed) = until_closed(&mut s, Duration::from_secs(10)).await;
        (closed, opened.elapsed().as_secs_f64())
    }))
    .await;
    let idle_closed = closes.iter().filter(|(c, _)| *c).count();
    let idle_close_s = median(closes.iter().filter(|(c, _)| *c).map(|(_, t)| *t).collect());

    // 2. Headers a byte every 200 ms.
    let before = server.rss();
    let slow_started = Instant::now();
    let slow = futures_join((0..slow_n).map(|_| {
        let addr = addr.clone();
        async move {
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return (false, 0u64);
            };
            let head = b"GET /healthz HTTP/1.1\r\nhost: gridwork\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            for b in head {
                if s.write_all(&[*b]).await.is_err() {
                    return (true, 0);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if slow_started.elapsed() > Duration::from_secs(12) {
                    return (false, 0);
                }
            }
            let (answer, _) = until_closed(&mut s, Duration::from_secs(2)).await;
            (answer.is_empty(), 0)
        }
    }));
    let sampler = async {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        server.rss()
    };
    let (slow, during) = tokio::join!(slow, sampler);
    let slow_per_conn = during.saturating_sub(before) as f64 / slow_n as f64;
    let slow_cut = slow.iter().filter(|(cut, _)| *cut).count();

    // 3. Enrollment bodies from an address already locked out: 8 MiB declared, sent but for
    // the last byte.
    let _ = raw_request(&addr, &enroll_head(20), b"{\"code\":\"x\"}       ").await;
    let before = server.reset_peak();
    let refused = futures_join((0..held_bodies).map(|_| {
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return (0u16, 0.0);
            };
            let len = 8 * 1024 * 1024;
            let _ = s.write_all(enroll_head(len).as_bytes()).await;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            let (mut answer, mut took) = (Vec::new(), 0.0);
            while sent + chunk.len() < len {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len();
                if answer.is_empty() {
                    let mut buf = [0u8; 1024];
                    if let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
                    {
                        answer.extend_from_slice(&buf[..n]);
                        took = started.elapsed().as_secs_f64();
                        break;
                    }
                }
            }
            if answer.is_empty() {
                let (a, _) = until_closed(&mut s, Duration::from_secs(10)).await;
                answer = a;
                took = started.elapsed().as_secs_f64();
            }
            (status_of(&answer), took)
        }
    }))
    .await;
    let enroll_peak = server.peak().saturating_sub(before);
    let enroll_429 = refused.iter().filter(|(s, _)| *s == 429).count();
    let enroll_refuse_s = median(refused.iter().map(|(_, t)| *t).collect());

    // 4. Pushes of 4.2 million tiny elements, one and four at once.
    let mut tiny = b"{\"ops\":[".to_vec();
    while tiny.len() < 8 * 1024 * 1024 - 16 {
        tiny.extend_from_slice(b"0,");
    }
    tiny.extend_from_slice(b"0]}");
    let tiny = Arc::new(tiny);
    let mut tiny_peaks = Vec::new();
    let mut tiny_times = Vec::new();
    for at_once in [1usize, 4] {
        let before = server.reset_peak();
        let answers = futures_join((0..at_once).map(|_| {
            let (addr, token, tiny) = (addr.clone(), token.clone(), tiny.clone());
            async move {
                let started = Instant::now();
                let answer = raw_request(&addr, &push_head(&token, tiny.len()), &tiny).await;
                (status_of(&answer), started.elapsed().as_secs_f64())
            }
        }))
        .await;
        assert!(answers.iter().all(|(s, _)| *s == 413), "{answers:?}");
        tiny_peaks.push(server.peak().saturating_sub(before));
        tiny_times.push(median(answers.iter().map(|(_, t)| *t).collect()));
    }

    // 5. A real push of 500 operations.
    let mut w = Writer::new(gridwork_core::new_id(), now_ms());
    let data = subdistrict(&mut w, crate::dataset::Size::GRID, 3);
    let ops: Vec<_> = data.ops.into_iter().take(MAX_PUSH_OPS).collect();
    let body = serde_json::to_vec(&PushRequest { ops }).expect("encodes");
    let before = server.reset_peak();
    let answer = raw_request(&addr, &push_head(&token, body.len()), &body).await;
    assert_eq!(
        status_of(&answer),
        200,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let real_peak = server.peak().saturating_sub(before);
    let real_body = body.len();
    server.stop().await;

    // 6. A flood over the cap, on a server with a long header timeout.
    let capped = ServerProcess::start(
        &db,
        &[
            "--header-read-timeout",
            "60",
            "--max-connections",
            &cap.to_string(),
        ],
    )
    .await;
    let mut held = Vec::with_capacity(cap);
    for _ in 0..cap {
        if let Ok(s) = TcpStream::connect(&capped.addr).await {
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flood = futures_join((0..over).map(|_| {
        let addr = capped.addr.clone();
        async move {
            let started = Instant::now();
            let answer = raw_request(&addr, "GET /healthz HTTP/1.1\r\nhost: g\r\n\r\n", b"").await;
            (status_of(&answer), started.elapsed().as_secs_f64())
        }
    }))
    .await;
    let refused_503 = flood.iter().filter(|(s, _)| *s == 503).count();
    let refuse_s = median(flood.iter().map(|(_, t)| *t).collect());
    drop(held);
    capped.stop().await;

    let figures = vec![
        Figure::new(
            "server memory at rest",
            base_rss as f64 / MIB,
            "MiB",
            Target::None,
        ),
        Figure::new(
            "memory per idle socket (never sends a byte)",
            idle_per_conn.max(1.0) / 1024.0,
            "KiB",
            Target::Below { max: 64.0 },
        ),
        Figure::new(
            "idle sockets closed by the server (header timeout 2 s)",
            100.0 * idle_closed as f64 / idle_n as f64,
            "%",
            Target::AtLeast { min: 100.0 },
        ),
        Figure::new(
            "time from connect to close, idle socket (median)",
            idle_close_s.max(1e-3),
            "s",
            Target::Below {
                max: header_timeout_s + 1.0,
            },
        ),
        Figure::new(
            "memory per slow-header socket (a byte every 200 ms)",
            slow_per_conn.max(1.0) / 1024.0,
            "KiB",
            Target::Below { max: 64.0 },
        ),
        Figure::new(
            "slow-header sockets cut off before their head was whole",
            100.0 * slow_cut as f64 / slow_n as f64,
            "%",
            Target::AtLeast { min: 100.0 },
        ),
        Figure::new(
            format!("peak memory, {held_bodies} locked-out enrollments of 8 MiB each"),
            (enroll_peak as f64 / MIB).max(0.01),
            "MiB",
            Target::Below { max: 8.0 },
        ),
        Figure::new(
            "time to refuse a locked-out 8 MiB enrollment (median)",
            enroll_refuse_s.max(1e-4) * 1000.0,
            "ms",
            Target::None,
        ),
        Figure::new(
            "peak memory, one push of 4.2 M tiny elements (8 MiB)",
            (tiny_peaks[0] as f64 / MIB).max(0.01),
            "MiB",
            Target::Below { max: 24.0 },
        ),
        Figure::new(
            "peak memory, four such pushes at once",
            (tiny_peaks[1] as f64 / MIB).max(0.01),
            "MiB",
            Target::Below { max: 96.0 },
        ),
        Figure::new(
            "time to refuse one such push (median)",
            tiny_times[0].max(1e-4) * 1000.0,
            "ms",
            Target::None,
        ),
        Figure::against(
            "peak memory of a real push of 500 operations, per byte of its body",
            (real_peak as f64).max(1.0),
            "B",
            "its body",
            real_body as f64,
            Target::None,
        ),
        Figure::new(
            "connections over the cap answered 503 too_many_connections",
            100.0 * refused_503 as f64 / over as f64,
            "%",
            Target::AtLeast { min: 100.0 },
        ),
        Figure::new(
            "time to refuse a connection over the cap (median)",
            refuse_s.max(1e-4) * 1000.0,
            "ms",
            Target::None,
        ),
    ];
    ScenarioResult {
        scenario: "hostile".into(),
        title: "9. Hostile clients".into(),
        figures,
        raw: json!({
            "idle_sockets": idle_n,
            "idle_closed": idle_closed,
            "slow_sockets": slow_n,
            "slow_cut": slow_cut,
            "locked_out_enrollments": held_bodies,
            "enrollments_answered_429": enroll_429,
            "enrollment_peak_bytes": enroll_peak,
            "tiny_push_bytes": tiny.len(),
            "tiny_push_peaks_bytes": tiny_peaks,
            "tiny_push_refuse_s": tiny_times,
            "real_push_body_bytes": real_body,
            "real_push_peak_bytes": real_peak,
            "cap": cap,
            "over_the_cap": over,
            "answered_503": refused_503,
            "rss_at_rest_bytes": base_rss,
        }),
        not_measured: None,
    }
}

fn enroll_head(len: usize) -> String {
    format!(
        "POST /v1/enroll HTTP/1.1\r\nhost: g\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    )
}

fn push_head(token: &str, len: usize) -> String {
    format!(
        "POST /v1/push HTTP/1.1\r\nhost: g\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\nconnection: close\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// Sends a request on a new connection and reads the answer until the server closes it (the
/// requests here all close: `connection: close`, or an error answer).
async fn raw_request(addr: &str, head: &str, body: &[u8]) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return Vec::new();
    };
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
    until_closed(&mut s, Duration::from_secs(60)).await.0
}

async fn reqwest_free_get(addr: &str, path: &str) -> u16 {
    status_of(
        &raw_request(
            addr,
            &format!("GET {path} HTTP/1.1\r\nhost: g\r\nconnection: close\r\n\r\n"),
            b"",
        )
        .await,
    )
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("a client task"));
    }
    out
}
