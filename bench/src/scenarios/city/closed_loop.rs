//! Part 3 of the city scenario: a closed loop of D phones for a fixed time. Each is a
//! gridworker of a grid of its own; each round it pushes a small batch (5 changes to households
//! of its grid) and then pulls from its cursor, every page until `more` is false, and starts
//! the next round at once. Figures: operations accepted per second, and the time of every
//! request (push or pull page). On PostgreSQL, with one server process or two on the same
//! database (phones split between them).
//!
//! A phone answered 503 ("busy": the server waited too long for a database connection) or
//! whose connection failed does what the app does: it waits (the `Retry-After` seconds, else
//! one) and sends the same request again, over a new connection if needed. Those answers are
//! counted, and their time is in the request percentiles.

use std::time::{Duration, Instant};

use gridwork_domain::op::EntityKind;
use serde::Serialize;

use super::seed::{CityPlan, Seeded};
use crate::load::Phone;
use crate::load::answers::{PullAnswer, PushCount};
use crate::load::conn::{Answer, Conn};
use crate::load::push_template::PushTemplate;
use crate::server_process::{Db, ServerProcess, local_postgres_cpu_ns};
use crate::stats::Latencies;

/// Changes in each push.
pub const BATCH: usize = 5;

/// What part 3 measured for one number of phones and server processes.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedLoop {
    pub devices: usize,
    pub processes: usize,
    /// From the start until the last phone finished its last round.
    pub seconds: f64,
    pub accepted: u64,
    pub refused: u64,
    pub pushes: usize,
    pub pull_pages: usize,
    /// Operations the pulls delivered (each phone's own come back too).
    pub pulled_ops: u64,
    /// Requests answered 503 (busy) or whose connection failed, each sent again.
    pub busy_answers: u64,
    pub failed_connections: u64,
    pub accepted_ops_per_s: f64,
    pub request_p50_ms: f64,
    pub request_p99_ms: f64,
    pub push_p99_ms: f64,
    pub pull_p99_ms: f64,
    pub max_ms: f64,
    /// CPU time of the server processes during the loop, per accepted operation, in µs: what
    /// one process's core serves when nothing else shares it (the database on its own machine).
    pub server_cpu_us_per_op: f64,
    /// CPU time of the PostgreSQL processes on this machine during the loop, per accepted
    /// operation, in µs (`None` on SQLite: its work is in the server's figure).
    pub database_cpu_us_per_op: Option<f64>,
    /// The share of a core each server process was held to (`None`: not held).
    pub server_cores: Option<f64>,
}

/// One phone's loop until `until`.
struct PhoneRun {
    accepted: u64,
    refused: u64,
    pulled: u64,
    busy: u64,
    failed: u64,
    pushes: Vec<Duration>,
    pulls: Vec<Duration>,
}

/// Sends a request until it is answered 200, as the app would (see the module doc); every
/// attempt's time goes into `times`.
async fn send_until_ok(
    conn: &mut Conn,
    addr: std::net::SocketAddr,
    request: impl Fn() -> hyper::Request<http_body_util::Full<hyper::body::Bytes>>,
    times: &mut Vec<Duration>,
    busy: &mut u64,
    failed: &mut u64,
) -> Answer {
    loop {
        let sent = Instant::now();
        let wait = match conn.try_send(request()).await {
            Ok(a) if a.status == 200 => {
                times.push(a.elapsed);
                return a;
            }
            Ok(a) if a.status == 503 => {
                times.push(a.elapsed);
                *busy += 1;
                a.retry_after_s.unwrap_or(1)
            }
            Ok(a) => panic!(
                "a closed-loop request answered {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ),
            Err(_) => {
                times.push(sent.elapsed());
                *failed += 1;
                *conn = Conn::open(addr).await;
                1
            }
        };
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

async fn phone_loop(
    addr: std::net::SocketAddr,
    phone: Phone,
    mut push: PushTemplate,
    after: u64,
    until: Instant,
) -> PhoneRun {
    let mut conn = Conn::open(addr).await;
    let mut run = PhoneRun {
        accepted: 0,
        refused: 0,
        pulled: 0,
        busy: 0,
        failed: 0,
        pushes: Vec::new(),
        pulls: Vec::new(),
    };
    let mut cursor = after;
    while Instant::now() < until {
        let body = push.next();
        let a = send_until_ok(
            &mut conn,
            addr,
            || phone.push(body.clone()),
            &mut run.pushes,
            &mut run.busy,
            &mut run.failed,
        )
        .await;
        let counted = PushCount::parse(&a.body);
        // A duplicate is a change stored by an earlier try answered 503: stored once, counted once.
        run.accepted += (counted.accepted + counted.duplicate) as u64;
        run.refused += counted.refused as u64;
        loop {
            let a = send_until_ok(
                &mut conn,
                addr,
                || phone.pull(cursor, 0),
                &mut run.pulls,
                &mut run.busy,
                &mut run.failed,
            )
            .await;
            let page = PullAnswer::parse(&a.body);
            run.pulled += page.ops() as u64;
            cursor = page.next;
            if !page.more {
                break;
            }
        }
    }
    run
}

/// Runs the loop with `devices` phones for `duration` on `processes` new server processes
/// over `db`, each held to `held` of a core's time when given (see `cpu_cap.rs`: check that
/// holding is possible first).
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    db: &Db,
    logs: &std::path::Path,
    seeded: &Seeded,
    plan: &CityPlan,
    devices: usize,
    processes: usize,
    duration: Duration,
    held: Option<f64>,
) -> ClosedLoop {
    assert!(devices <= plan.grids, "one phone per grid");
    let mut servers = Vec::new();
    for p in 0..processes {
        let log = logs.join(format!("server-loop-{devices}-{processes}-{p}.log"));
        let mut server = ServerProcess::start(db, &log).await;
        if let Some(cores) = held {
            server
                .hold_to(cores)
                .expect("a server process held to its CPU quota");
        }
        servers.push(server);
    }
    let latest = servers[0].stats().await.last_seq;
    let mut cpu_before = Vec::new();
    for s in &mut servers {
        cpu_before.push(s.stats().await);
    }
    let database_before = db.is_postgres().then(local_postgres_cpu_ns).flatten();
    let until = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = seeded.gridworkers[..devices]
        .iter()
        .enumerate()
        .map(|(d, phone)| {
            let push = PushTemplate::new(
                phone.device,
                EntityKind::Household,
                &plan.households[phone.grid][..BATCH],
                "phone",
                serde_json::json!("13612345678"),
            );
            tokio::spawn(phone_loop(
                servers[d % processes].addr,
                phone.clone(),
                push,
                latest,
                until,
            ))
        })
        .collect();
    let (mut accepted, mut refused, mut pulled, mut busy, mut failed) = (0, 0, 0, 0, 0);
    let (mut pushes, mut pulls) = (Vec::new(), Vec::new());
    for t in tasks {
        let run = t.await.expect("a phone's loop");
        accepted += run.accepted;
        refused += run.refused;
        pulled += run.pulled;
        busy += run.busy;
        failed += run.failed;
        pushes.extend(run.pushes);
        pulls.extend(run.pulls);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut server_cpu_ms = 0.0;
    for (s, before) in servers.iter_mut().zip(&cpu_before) {
        server_cpu_ms += s.stats().await.cpu_ms_since(before);
    }
    let database_cpu_ms = database_before
        .zip(local_postgres_cpu_ns())
        .map(|(before, after)| after.saturating_sub(before) as f64 / 1e6);
    for s in servers {
        s.stop().await;
    }
    let per_op_us = |ms: f64| ms * 1000.0 / accepted.max(1) as f64;
    let all: Vec<Duration> = pushes.iter().chain(&pulls).copied().collect();
    let all = Latencies::from_durations(&all);
    ClosedLoop {
        devices,
        processes,
        seconds,
        accepted,
        refused,
        pushes: pushes.len(),
        pull_pages: pulls.len(),
        pulled_ops: pulled,
        busy_answers: busy,
        failed_connections: failed,
        accepted_ops_per_s: accepted as f64 / seconds,
        request_p50_ms: all.p50_ms(),
        request_p99_ms: all.p99_ms(),
        push_p99_ms: Latencies::from_durations(&pushes).p99_ms(),
        pull_p99_ms: Latencies::from_durations(&pulls).p99_ms(),
        max_ms: all.max_ms(),
        server_cpu_us_per_op: per_op_us(server_cpu_ms),
        database_cpu_us_per_op: database_cpu_ms.map(per_op_us),
        server_cores: held,
    }
}
