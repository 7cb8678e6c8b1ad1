//! Part 1 of the city scenario: what one phone's pull and one grid's snapshot cost in a city
//! of N grids. Grid 0's gridworker pulls from its cursor (every page, as the phone does, until
//! `more` is false) with nothing new for it, then again once a colleague pushed 10 changes to
//! grid 0; and takes its grid's whole snapshot (every page). Each is repeated; the server
//! process's read counts, taken before and after each series, give the rows read per run.
//!
//! Every city is seeded and served (a server process each) before any is measured, and the
//! cities take turns run by run: a ratio between two cities then compares runs made in the same
//! moments of the machine, not minutes apart (where a build, a checkpoint or the database's
//! autovacuum catching up after the largest city's seeding fell on one city only).

use serde::Serialize;

use super::seed::{CityPlan, Seeded};
use crate::load::Phone;
use crate::load::answers::{PullAnswer, PushCount, SnapshotAnswer};
use crate::load::conn::Conn;
use crate::load::push_template::PushTemplate;
use crate::server_process::{ServerProcess, ServerStats};
use crate::stats::Latencies;
use gridwork_domain::op::EntityKind;

/// One series of repeated runs.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub runs: usize,
    /// Requests (pages) each run took.
    pub requests_per_run: usize,
    /// Operations (pulls) or records (snapshots) each run delivered.
    pub delivered_per_run: usize,
    pub log_rows_per_run: f64,
    pub record_rows_per_run: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Series {
    /// Log rows (pulls) or record rows (snapshots) read per item delivered.
    pub fn log_rows_per_op(&self) -> f64 {
        self.log_rows_per_run / self.delivered_per_run as f64
    }

    pub fn record_rows_per_record(&self) -> f64 {
        self.record_rows_per_run / self.delivered_per_run as f64
    }
}

/// What part 1 measured in one city.
#[derive(Debug, Clone, Serialize)]
pub struct Reads {
    pub grids: usize,
    pub records: usize,
    pub ops_after_cursor: usize,
    pub nothing_new: Series,
    pub ten_new: Series,
    pub snapshot: Series,
}

/// A run: time of its requests, requests, items delivered.
type Run = (std::time::Duration, usize, usize);

/// The phone's whole pull from `after`: every page until `more` is false.
async fn pull_all(conn: &mut Conn, phone: &Phone, after: u64) -> Run {
    let (mut time, mut requests, mut delivered) = (std::time::Duration::ZERO, 0, 0);
    let mut cursor = after;
    loop {
        let a = conn.send(phone.pull(cursor, 0)).await.ok("a pull");
        time += a.elapsed;
        requests += 1;
        let page = PullAnswer::parse(&a.body);
        assert_eq!(
            page.scope_changes(),
            0,
            "no record changes scope in the city"
        );
        delivered += page.ops();
        cursor = page.next;
        if !page.more {
            return (time, requests, delivered);
        }
    }
}

/// The phone's whole snapshot: every page until there is no next one.
async fn snapshot_all(conn: &mut Conn, phone: &Phone) -> Run {
    let (mut time, mut requests, mut delivered) = (std::time::Duration::ZERO, 0, 0);
    let mut after = None;
    loop {
        let a = conn.send(phone.snapshot(after)).await.ok("a snapshot page");
        time += a.elapsed;
        requests += 1;
        let page = SnapshotAnswer::parse(&a.body);
        delivered += page.records();
        after = page.next_after;
        if after.is_none() {
            return (time, requests, delivered);
        }
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Pull { after: u64 },
    Snapshot,
}

async fn run(conn: &mut Conn, phone: &Phone, kind: Kind) -> Run {
    match kind {
        Kind::Pull { after } => pull_all(conn, phone, after).await,
        Kind::Snapshot => snapshot_all(conn, phone).await,
    }
}

/// One city's server and phones, measured beside the others.
pub struct City<'a> {
    pub server: ServerProcess,
    pub seeded: &'a Seeded,
    pub plan: &'a CityPlan,
}

/// Repeats a run in every city, the cities taking turns run by run (after one run each not
/// counted, to warm the caches), reading each server's counts around: whatever else the machine
/// does during the series falls on every city alike.
async fn series(
    cities: &mut [City<'_>],
    conns: &mut [Conn],
    kinds: &[Kind],
    runs: usize,
) -> Vec<Series> {
    let mut warm = Vec::with_capacity(cities.len());
    for ((city, conn), kind) in cities.iter().zip(conns.iter_mut()).zip(kinds) {
        warm.push(run(conn, &city.seeded.gridworkers[0], *kind).await);
    }
    let mut before: Vec<ServerStats> = Vec::with_capacity(cities.len());
    for city in cities.iter_mut() {
        before.push(city.server.stats().await);
    }
    let mut times = vec![Vec::with_capacity(runs); cities.len()];
    for _ in 0..runs {
        for (i, (city, conn)) in cities.iter().zip(conns.iter_mut()).enumerate() {
            let (time, requests, delivered) =
                run(conn, &city.seeded.gridworkers[0], kinds[i]).await;
            assert_eq!(
                (requests, delivered),
                (warm[i].1, warm[i].2),
                "every run sees the same"
            );
            times[i].push(time);
        }
    }
    let mut out = Vec::with_capacity(cities.len());
    for (i, city) in cities.iter_mut().enumerate() {
        let after = city.server.stats().await;
        let lat = Latencies::from_durations(&times[i]);
        out.push(Series {
            runs,
            requests_per_run: warm[i].1,
            delivered_per_run: warm[i].2,
            log_rows_per_run: (after.log_rows - before[i].log_rows) as f64 / runs as f64,
            record_rows_per_run: (after.record_rows - before[i].record_rows) as f64 / runs as f64,
            p50_ms: lat.p50_ms(),
            p99_ms: lat.p99_ms(),
            max_ms: lat.max_ms(),
        });
    }
    out
}

/// Measures part 1 in every city at once, on their started servers (see [`series`]).
pub async fn measure(cities: &mut [City<'_>], runs: usize) -> Vec<Reads> {
    let mut conns = Vec::with_capacity(cities.len());
    for city in cities.iter() {
        conns.push(Conn::open(city.server.addr).await);
    }
    let pulls: Vec<Kind> = cities
        .iter()
        .map(|c| Kind::Pull {
            after: c.seeded.cursor,
        })
        .collect();
    let nothing_new = series(cities, &mut conns, &pulls, runs).await;
    for s in &nothing_new {
        assert_eq!(s.delivered_per_run, 0, "nothing new for grid 0 yet");
    }
    let snapshots = vec![Kind::Snapshot; cities.len()];
    let snapshot = series(cities, &mut conns, &snapshots, runs).await;
    for s in &snapshot {
        assert!(s.delivered_per_run > 0, "grid 0 has records");
    }

    // A colleague changes 10 households of grid 0, in every city.
    for city in cities.iter() {
        let colleague = &city.seeded.colleague;
        let mut push = PushTemplate::new(
            colleague.device,
            EntityKind::Household,
            &city.plan.households[0][..10],
            "phone",
            serde_json::json!("13912345678"),
        );
        let mut colleague_conn = Conn::open(city.server.addr).await;
        let a = colleague_conn
            .send(colleague.push(push.next()))
            .await
            .ok("the colleague's push");
        let pushed = PushCount::parse(&a.body);
        assert_eq!(pushed.accepted, 10, "{:?}", pushed.first_refusal);
    }

    let ten_new = series(cities, &mut conns, &pulls, runs).await;
    for s in &ten_new {
        assert_eq!(s.delivered_per_run, 10, "the phone gets the 10 changes");
    }
    cities
        .iter()
        .zip(nothing_new)
        .zip(ten_new)
        .zip(snapshot)
        .map(|(((city, nothing_new), ten_new), snapshot)| Reads {
            grids: city.plan.grids,
            records: city.plan.records,
            ops_after_cursor: city.plan.ops_after_cursor(),
            nothing_new,
            ten_new,
            snapshot,
        })
        .collect()
}
