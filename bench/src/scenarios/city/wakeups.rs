//! Part 2 of the city scenario: one push to one grid while many phones wait in long polls.
//!
//! P phones whose scopes lie outside grid 0 (gridworkers of the other grids, then building
//! heads) each hold a long poll open (`GET /v1/pull?after=<latest>&wait=30`, re-sent whenever
//! its wait runs out). Grid 0's gridworker waits too. Then, round after round, its colleague
//! pushes one change to grid 0, and the round measures the time until the gridworker's poll
//! returns with it, and the server process's CPU time from the push until it is idle again
//! (the push, every wake-up it caused, the gridworker's poll sent again). A round during which
//! any other poll returned (its 30 s ran out, and it was sent again) is not counted: that
//! would add the cost of other requests. The server's resident memory before and after the
//! polls were opened gives the memory each waiting poll holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gridwork_domain::op::EntityKind;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};

use super::seed::{CityPlan, Seeded};
use crate::load::Phone;
use crate::load::answers::{PullAnswer, PushCount};
use crate::load::conn::{Answer, Conn};
use crate::load::push_template::PushTemplate;
use crate::server_process::{Db, ServerProcess};
use crate::stats::Latencies;

/// How long a poll waits on the server (the protocol's longest).
const WAIT_S: u64 = 30;
/// How long the server may take to finish a round's work.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// How long the colleague's connection may sit idle before a round opens a new one: well
/// inside the server's keep-alive limit (its `header_read_timeout`, 15 s by default).
const KEEP_ALIVE_SAFE: Duration = Duration::from_secs(10);

/// What part 2 measured with P waiting polls.
#[derive(Debug, Clone, Serialize)]
pub struct Wakeups {
    pub polls: usize,
    pub rss_before_bytes: u64,
    pub rss_waiting_bytes: u64,
    pub bytes_per_poll: f64,
    /// Rounds counted, and rounds left out because another poll returned during them.
    pub rounds: usize,
    pub rounds_left_out: usize,
    /// Server CPU per push, ms: mean and median of the rounds counted.
    pub cpu_ms_mean: f64,
    pub cpu_ms_p50: f64,
    pub cpu_ms_max: f64,
    /// From the push's send to the concerned phone's poll returning with it, ms.
    pub woken_p50_ms: f64,
    pub woken_p99_ms: f64,
    pub woken_max_ms: f64,
    /// Answers the other phones got during the whole measure (their waits running out).
    pub other_answers: usize,
    /// Of them, answers that carried operations (none should: the push was not theirs).
    pub other_answers_with_ops: usize,
}

/// What the waiting phones share: a limit on connections opened at once (the server's accept
/// queue), and counts of polls sent, answered, and answered with operations.
#[derive(Debug)]
struct Waiting {
    connecting: Semaphore,
    sent: AtomicUsize,
    answers: AtomicUsize,
    with_ops: AtomicUsize,
}

impl Waiting {
    /// Polls sent and answered so far.
    fn counts(&self) -> (usize, usize) {
        (
            self.sent.load(Ordering::Relaxed),
            self.answers.load(Ordering::Relaxed),
        )
    }
}

/// One waiting phone: sends its poll again whenever it returns, until told to stop.
async fn keep_polling(
    addr: std::net::SocketAddr,
    phone: Phone,
    after: u64,
    shared: Arc<Waiting>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = {
        let _turn = shared
            .connecting
            .acquire()
            .await
            .expect("the semaphore stays open");
        Conn::open(addr).await
    };
    let mut cursor = after;
    loop {
        shared.sent.fetch_add(1, Ordering::Relaxed);
        let answer = tokio::select! {
            a = conn.send(phone.pull(cursor, WAIT_S)) => a.ok("a waiting poll"),
            _ = stop.wait_for(|s| *s) => return,
        };
        let page = PullAnswer::parse(&answer.body);
        shared.answers.fetch_add(1, Ordering::Relaxed);
        if page.ops() > 0 {
            shared.with_ops.fetch_add(1, Ordering::Relaxed);
        }
        cursor = page.next;
    }
}

/// Grid 0's gridworker's poll, sent in a task of its own so the push can go meanwhile.
fn poll_in_background(
    mut conn: Conn,
    phone: Phone,
    after: u64,
) -> tokio::task::JoinHandle<(Conn, Answer, Instant)> {
    tokio::spawn(async move {
        let a = conn.send(phone.pull(after, WAIT_S)).await;
        (conn, a, Instant::now())
    })
}

/// Measures part 2 with `polls` waiting phones, `rounds` pushes counted, on a new server
/// process over `db`.
pub async fn measure(
    db: &Db,
    log: &std::path::Path,
    seeded: &Seeded,
    plan: &CityPlan,
    polls: usize,
    rounds: usize,
) -> Wakeups {
    let mut server = ServerProcess::start(db, log).await;
    let latest = server.stats().await.last_seq;
    let phone = seeded.gridworkers[0].clone();
    let colleague = seeded.colleague.clone();
    let mut push = PushTemplate::new(
        colleague.device,
        EntityKind::Household,
        &plan.households[0][..1],
        "phone",
        serde_json::json!("13812345678"),
    );
    // Warm the server's paths (token check, scope view, pull, push) before the baseline.
    let mut warm_conn = Conn::open(server.addr).await;
    for _ in 0..3 {
        warm_conn.send(phone.pull(latest, 0)).await.ok("a pull");
    }
    drop(warm_conn);
    server.settle(SETTLE_LIMIT).await;
    let rss_before_bytes = server.rss_bytes();

    let (stop_tx, stop) = watch::channel(false);
    let shared = Arc::new(Waiting {
        connecting: Semaphore::new(64),
        sent: AtomicUsize::new(0),
        answers: AtomicUsize::new(0),
        with_ops: AtomicUsize::new(0),
    });
    let mut waiting = Vec::with_capacity(polls);
    for p in seeded.outsiders(polls) {
        waiting.push(tokio::spawn(keep_polling(
            server.addr,
            p,
            latest,
            shared.clone(),
            stop.clone(),
        )));
    }
    // Every poll sent, and the server done with them: they all wait.
    let armed_by = Instant::now() + Duration::from_secs(120);
    while shared.counts().0 < polls && Instant::now() < armed_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shared.counts().0 >= polls, "every poll was sent");
    server.settle(SETTLE_LIMIT).await;
    let rss_waiting_bytes = server.rss_bytes();

    // Grid 0's phone and its colleague connect now: a connection left idle while thousands of
    // polls are opened (more than 15 s on a busy machine) is closed by the server's keep-alive
    // limit (`header_read_timeout`), as a phone's would be.
    let phone_conn = Conn::open(server.addr).await;
    let mut colleague_conn = Conn::open(server.addr).await;
    let mut colleague_used = Instant::now();
    let mut pending = Some(poll_in_background(phone_conn, phone.clone(), latest));
    let mut idle = server.settle(SETTLE_LIMIT).await;
    // The other phones' requests so far: a round counts only if none came in its window (from
    // the server idle before the push to idle again after it).
    let mut others_at_idle = shared.counts();
    let (mut cpu, mut woken) = (Vec::new(), Vec::new());
    let mut left_out = 0;
    let mut attempts = 0;
    while cpu.len() < rounds && attempts < rounds * 3 + 10 {
        attempts += 1;
        if colleague_used.elapsed() > KEEP_ALIVE_SAFE {
            // Idle for long (a slow settle): a new connection, made before the round's window.
            colleague_conn = Conn::open(server.addr).await;
            idle = server.settle(SETTLE_LIMIT).await;
            others_at_idle = shared.counts();
        }
        let sent_at = Instant::now();
        let a = colleague_conn
            .send(colleague.push(push.next()))
            .await
            .ok("the colleague's push");
        colleague_used = Instant::now();
        let pushed = PushCount::parse(&a.body);
        assert_eq!(pushed.accepted, 1, "{:?}", pushed.first_refusal);
        let (conn, answer, returned_at) = pending
            .take()
            .expect("the phone waits")
            .await
            .expect("the phone's poll task");
        let page = PullAnswer::parse(&answer.ok("the phone's poll").body);
        assert!(page.ops() >= 1, "the phone's poll returns with the change");
        // The phone sends its poll again at once, as a phone does: part of the push's cost.
        pending = Some(poll_in_background(conn, phone.clone(), page.next));
        let after = server.settle(SETTLE_LIMIT).await;
        let others_now = shared.counts();
        if others_now != others_at_idle {
            left_out += 1;
        } else {
            cpu.push(after.cpu_ms_since(&idle));
            woken.push(returned_at - sent_at);
        }
        idle = after;
        others_at_idle = others_now;
    }
    let _ = stop_tx.send(true);
    for w in waiting {
        let _ = w.await;
    }
    if let Some(p) = pending {
        p.abort();
    }
    server.stop().await;

    let woken = Latencies::from_durations(&woken);
    let mut sorted = cpu.clone();
    sorted.sort_by(f64::total_cmp);
    Wakeups {
        polls,
        rss_before_bytes,
        rss_waiting_bytes,
        bytes_per_poll: rss_waiting_bytes.saturating_sub(rss_before_bytes) as f64 / polls as f64,
        rounds: cpu.len(),
        rounds_left_out: left_out,
        cpu_ms_mean: cpu.iter().sum::<f64>() / cpu.len().max(1) as f64,
        cpu_ms_p50: sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
        cpu_ms_max: sorted.last().copied().unwrap_or(f64::NAN),
        woken_p50_ms: woken.p50_ms(),
        woken_p99_ms: woken.p99_ms(),
        woken_max_ms: woken.max_ms(),
        other_answers: shared.answers.load(Ordering::Relaxed),
        other_answers_with_ops: shared.with_ops.load(Ordering::Relaxed),
    }
}
