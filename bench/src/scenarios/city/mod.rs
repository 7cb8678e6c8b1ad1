//! Scenario 10, the city: whether the server's cost follows each phone's scope or the whole city
//! (issue 17). The server runs in a process of its own ([`crate::server_process`]), loaded by
//! a generator much lighter than it ([`crate::load`]); on SQLite, and on PostgreSQL beside it.
//!
//! 1. [`reads`]: in cities of 1, 100 and 1,000 grids, one phone's pull with nothing new, the
//!    same pull with 10 new operations, and its grid's snapshot: time, and rows read per
//!    operation (or record) delivered, from the storage's own counts.
//! 2. [`wakeups`]: one push to one grid while 1,000 or 5,000 other phones wait in long polls:
//!    server CPU per push, time until the concerned phone's poll returns, memory per poll.
//! 3. [`closed_loop`]: 50, 200 and 1,000 phones each pushing a small batch and pulling, for a
//!    fixed time: accepted operations per second, request latency; on PostgreSQL with one
//!    server process and with two.
//!
//! The data and phones are made by [`seed`]. Part 1 measures every city turn by turn, each
//! seeded (and on PostgreSQL vacuumed, as after a bulk load) and served before any is measured;
//! parts 2 and 3 run in the largest city after it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, SqliteStorage};
use serde::Serialize;
use serde_json::json;

use super::Config;
use crate::report::{Figure, ScenarioResult, Target, group};
use crate::server_process::{Db, ServerProcess, raise_fd_limit};

pub mod closed_loop;
pub mod reads;
pub mod seed;
pub mod wakeups;

use closed_loop::ClosedLoop;
use reads::{Reads, Series};
use seed::{CityPlan, Seeded};
use wakeups::Wakeups;

/// The share of a core each server process is held to in the held loop: small enough that two
/// processes, the database and the load generator together stay inside two cores, so the
/// server processes, not the database, are what limits the loop.
const HELD_CORES: f64 = 0.25;

/// Today's closed-loop rate at 1,000 phones (issue 17), which the target multiplies by 5.
const ISSUE_OPS_PER_S_AT_1000: f64 = 227.0;

/// The sizes of a run.
#[derive(Debug, Clone, Serialize)]
struct Sizes {
    cities: Vec<usize>,
    /// Repeats of each pull and snapshot.
    runs: usize,
    polls: Vec<usize>,
    /// Pushes counted with each number of polls.
    rounds: usize,
    devices: Vec<usize>,
    loop_seconds: u64,
    /// Phones of the loop whose server processes are each held to `held_cores` of a core.
    held_devices: usize,
    held_cores: f64,
}

impl Sizes {
    fn of(cfg: &Config) -> Sizes {
        if cfg.quick {
            Sizes {
                cities: vec![1, 20],
                runs: 3,
                polls: vec![50],
                rounds: 3,
                devices: vec![20],
                loop_seconds: 2,
                held_devices: 20,
                held_cores: HELD_CORES,
            }
        } else {
            Sizes {
                cities: vec![1, 100, 1_000],
                runs: 60,
                polls: vec![1_000, 5_000],
                rounds: 20,
                devices: vec![50, 200, 1_000],
                loop_seconds: 30,
                held_devices: 1_000,
                held_cores: HELD_CORES,
            }
        }
    }

    fn largest_city(&self) -> usize {
        *self.cities.last().expect("a city")
    }
}

/// Everything measured on one backend.
#[derive(Debug, Clone, Serialize)]
struct Measured {
    reads: Vec<Reads>,
    wakeups: Vec<Wakeups>,
    /// One server process.
    loops: Vec<ClosedLoop>,
    /// Two server processes on one database (PostgreSQL only).
    loops_two: Vec<ClosedLoop>,
    /// The loop with each server process held to a share of a core: one process, then (on
    /// PostgreSQL) two.
    held: Vec<ClosedLoop>,
    /// Why the held loop was not run (no control group could be made).
    held_not_measured: Option<String>,
}

/// A database for one city: a file, or a scratch PostgreSQL database (dropped with it).
struct CityDb {
    db: Db,
    scratch: Option<ScratchDatabase>,
}

impl CityDb {
    async fn new(pg: Option<&str>, dir: &Path, grids: usize) -> CityDb {
        match pg {
            None => CityDb {
                db: Db::Sqlite(dir.join(format!("city-{grids}.db"))),
                scratch: None,
            },
            Some(url) => {
                let scratch = ScratchDatabase::create(url)
                    .await
                    .expect("a scratch PostgreSQL database");
                CityDb {
                    db: Db::Postgres(scratch.url().to_string()),
                    scratch: Some(scratch),
                }
            }
        }
    }

    /// On PostgreSQL, vacuums and analyzes the seeded database as an operator does after a bulk
    /// load (PostgreSQL's "Populating a Database"): a city's log grows over months, with
    /// autovacuum keeping up; its catch-up after a seeding of seconds is not what a pull costs.
    async fn settle(&self) {
        if let Some(scratch) = &self.scratch {
            scratch
                .vacuum_analyze()
                .await
                .expect("the seeded database is vacuumed");
        }
    }

    /// Stores the city and enrolls its phones through the `Storage` API, in this process.
    async fn seed(&self, plan: &CityPlan, heads: usize) -> Seeded {
        match &self.db {
            Db::Sqlite(path) => {
                let s = SqliteStorage::open(path).expect("the SQLite storage opens");
                seed::seed(Arc::new(s), plan, heads).await
            }
            Db::Postgres(url) => {
                let s = PgStorage::connect(url).await.expect("PostgreSQL opens");
                seed::seed(Arc::new(s), plan, heads).await
            }
        }
    }
}

async fn measure(sizes: &Sizes, pg: Option<&str>, dir: &Path) -> Measured {
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };
    let started = std::time::Instant::now();
    let step = |what: String| {
        eprintln!(
            "  city [{:>5.0} s] {backend}: {what}",
            started.elapsed().as_secs_f64()
        )
    };
    let mut measured = Measured {
        reads: vec![],
        wakeups: vec![],
        loops: vec![],
        loops_two: vec![],
        held: vec![],
        held_not_measured: None,
    };
    // Part 1: every city seeded and served at once, measured turn by turn (`reads`).
    let mut dbs = Vec::with_capacity(sizes.cities.len());
    for &grids in &sizes.cities {
        let heads = if grids == sizes.largest_city() {
            let most = sizes.polls.iter().copied().max().unwrap_or(0);
            most.saturating_sub(grids - 1)
        } else {
            0
        };
        step(format!("{}: seeding", grids_label(grids)));
        let plan = CityPlan::new(grids);
        let city = CityDb::new(pg, dir, grids).await;
        let seeded = city.seed(&plan, heads).await;
        city.settle().await;
        dbs.push((city, plan, seeded));
    }
    step("pulls and snapshots, every city in turn".into());
    let mut cities = Vec::with_capacity(dbs.len());
    for (city, plan, seeded) in &dbs {
        let log = dir.join(format!("server-{backend}-{}.log", plan.grids));
        cities.push(reads::City {
            server: ServerProcess::start(&city.db, &log).await,
            seeded,
            plan,
        });
    }
    measured.reads = reads::measure(&mut cities, sizes.runs).await;
    for city in cities {
        city.server.stop().await;
    }
    let (city, plan, seeded) = dbs.pop().expect("a city");
    drop(dbs);
    for &polls in &sizes.polls {
        step(format!("{} waiting polls", group(polls as f64)));
        let log = dir.join(format!("server-{backend}-polls-{polls}.log"));
        measured
            .wakeups
            .push(wakeups::measure(&city.db, &log, &seeded, &plan, polls, sizes.rounds).await);
    }
    let duration = Duration::from_secs(sizes.loop_seconds);
    for &devices in &sizes.devices {
        step(format!("closed loop, {} devices", group(devices as f64)));
        measured.loops.push(
            closed_loop::measure(&city.db, dir, &seeded, &plan, devices, 1, duration, None).await,
        );
        if pg.is_some() {
            step(format!(
                "closed loop, {} devices, 2 processes",
                group(devices as f64)
            ));
            measured.loops_two.push(
                closed_loop::measure(&city.db, dir, &seeded, &plan, devices, 2, duration, None)
                    .await,
            );
        }
    }
    match if sizes.held_devices == 0 {
        Err("dev".to_string())
    } else {
        crate::cpu_cap::available()
    } {
        Ok(()) => {
            let devices = sizes.held_devices.min(plan.grids);
            let cores = Some(sizes.held_cores);
            for processes in [1, 2].into_iter().take(if pg.is_some() { 2 } else { 1 }) {
                step(format!(
                    "closed loop, {} devices, {processes} process(es) held to {} of a core",
                    group(devices as f64),
                    sizes.held_cores
                ));
                measured.held.push(
                    closed_loop::measure(
                        &city.db, dir, &seeded, &plan, devices, processes, duration, cores,
                    )
                    .await,
                );
            }
        }
        Err(why) => measured.held_not_measured = Some(why),
    }
    step("done".into());
    measured
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    raise_fd_limit();
    let sizes = Sizes::of(cfg);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = measure(&sizes, None, dir.path()).await;
    let mut figures = backend_figures("SQLite", &sizes, &sqlite);
    let mut not_measured = None;
    let mut pg_raw = serde_json::Value::Null;
    match &cfg.postgres {
        Ok(url) => {
            let pg = measure(&sizes, Some(url), dir.path()).await;
            figures.extend(backend_figures("PostgreSQL", &sizes, &pg));
            figures.extend(postgres_figures(&sizes, &sqlite, &pg));
            pg_raw = json!(pg);
        }
        Err(why) => not_measured = Some(format!("the PostgreSQL rows were not measured: {why}")),
    }
    ScenarioResult {
        scenario: "city".into(),
        title: "10. City scale".into(),
        figures,
        raw: json!({ "sizes": sizes, "sqlite": sqlite, "postgres": pg_raw }),
        not_measured,
    }
}

/// "1 grid", "1,000 grids".
fn grids_label(n: usize) -> String {
    let count = group(n as f64);
    if n == 1 {
        format!("{count} grid")
    } else {
        format!("{count} grids")
    }
}

/// Part 1's figures for one series: p50 beside the 1-grid city's, p99.
fn time_figures(
    b: &str,
    what: &str,
    sizes: &Sizes,
    reads: &[Reads],
    pick: fn(&Reads) -> &Series,
) -> Vec<Figure> {
    let mut out = Vec::new();
    let base = &reads[0];
    for r in reads {
        let s = pick(r);
        let name = format!("{b}: {what}, {}", grids_label(r.grids));
        if r.grids == base.grids {
            out.push(Figure::new(
                format!("{name}: p50"),
                s.p50_ms,
                "ms",
                Target::None,
            ));
        } else {
            let target = if r.grids == sizes.largest_city() {
                Target::RatioAtMost { max: 1.5 }
            } else {
                Target::None
            };
            out.push(Figure::against(
                format!("{name}: p50"),
                s.p50_ms,
                "ms",
                grids_label(base.grids),
                pick(base).p50_ms,
                target,
            ));
        }
        out.push(Figure::new(
            format!("{name}: p99"),
            s.p99_ms,
            "ms",
            Target::None,
        ));
    }
    out
}

fn backend_figures(b: &str, sizes: &Sizes, m: &Measured) -> Vec<Figure> {
    let mut out = Vec::new();
    out.extend(time_figures(b, "pull, nothing new", sizes, &m.reads, |r| {
        &r.nothing_new
    }));
    out.extend(time_figures(b, "pull, 10 new ops", sizes, &m.reads, |r| {
        &r.ten_new
    }));
    out.extend(time_figures(
        b,
        "one grid's snapshot",
        sizes,
        &m.reads,
        |r| &r.snapshot,
    ));
    for r in &m.reads {
        out.push(Figure::new(
            format!(
                "{b}: pull, nothing new, {}: log rows read",
                grids_label(r.grids)
            ),
            r.nothing_new.log_rows_per_run,
            "rows",
            Target::None,
        ));
        out.push(Figure::new(
            format!(
                "{b}: pull, 10 new ops, {}: log rows read per op delivered",
                grids_label(r.grids)
            ),
            r.ten_new.log_rows_per_op(),
            "rows",
            Target::AtMost { max: 2.0 },
        ));
        out.push(Figure::new(
            format!(
                "{b}: one grid's snapshot, {}: record rows read per record delivered",
                grids_label(r.grids)
            ),
            r.snapshot.record_rows_per_record(),
            "rows",
            Target::AtMost { max: 2.0 },
        ));
    }
    let most_polls = sizes.polls.iter().copied().max().unwrap_or(0);
    for w in &m.wakeups {
        let judged = w.polls == most_polls;
        let name = format!("{b}: {} waiting polls", group(w.polls as f64));
        out.push(Figure::new(
            format!("{name}: server CPU per push (mean)"),
            w.cpu_ms_mean,
            "ms",
            if judged {
                Target::Below { max: 5.0 }
            } else {
                Target::None
            },
        ));
        out.push(Figure::new(
            format!("{name}: concerned phone's poll returns, p50"),
            w.woken_p50_ms,
            "ms",
            Target::None,
        ));
        out.push(Figure::new(
            format!("{name}: concerned phone's poll returns, p99"),
            w.woken_p99_ms,
            "ms",
            if judged {
                Target::Below { max: 20.0 }
            } else {
                Target::None
            },
        ));
        out.push(Figure::new(
            format!("{name}: server memory per waiting poll"),
            w.bytes_per_poll / 1024.0,
            "kB",
            Target::None,
        ));
    }
    out.extend(loop_figures(b, Some(sizes), &m.loops));
    out
}

/// The figures of each loop, named after `b`; judged against the issue's targets at the most
/// devices of `sizes` (not at all without them: the held loop is slowed on purpose).
fn loop_figures(b: &str, sizes: Option<&Sizes>, loops: &[ClosedLoop]) -> Vec<Figure> {
    let most = sizes.and_then(|s| s.devices.iter().copied().max());
    let mut out = Vec::new();
    for l in loops {
        let judged = Some(l.devices) == most;
        let name = format!("{b}: closed loop, {} devices", group(l.devices as f64));
        out.push(Figure::new(
            format!("{name}: accepted ops/s"),
            l.accepted_ops_per_s,
            "ops/s",
            if judged {
                Target::AtLeast {
                    min: 5.0 * ISSUE_OPS_PER_S_AT_1000,
                }
            } else {
                Target::None
            },
        ));
        out.push(Figure::new(
            format!("{name}: request p50"),
            l.request_p50_ms,
            "ms",
            Target::None,
        ));
        out.push(Figure::new(
            format!("{name}: request p99"),
            l.request_p99_ms,
            "ms",
            if judged {
                Target::Below { max: 1000.0 }
            } else {
                Target::None
            },
        ));
        out.push(Figure::new(
            format!("{name}: server CPU per accepted op"),
            l.server_cpu_us_per_op,
            "µs",
            Target::None,
        ));
        if let Some(database) = l.database_cpu_us_per_op {
            out.push(Figure::new(
                format!("{name}: database CPU per accepted op (PostgreSQL on this machine)"),
                database,
                "µs",
                Target::None,
            ));
        }
        out.push(Figure::new(
            format!("{name}: requests answered 503 (busy) or cut off, sent again"),
            (l.busy_answers + l.failed_connections) as f64,
            "requests",
            Target::None,
        ));
    }
    out
}

/// Two PostgreSQL processes beside one, and PostgreSQL beside SQLite.
fn postgres_figures(sizes: &Sizes, sqlite: &Measured, pg: &Measured) -> Vec<Figure> {
    let mut out = loop_figures("PostgreSQL, 2 processes", Some(sizes), &pg.loops_two);
    for (two, one) in pg.loops_two.iter().zip(&pg.loops) {
        out.push(Figure::against(
            format!(
                "PostgreSQL, closed loop, {} devices: 2 processes against 1, accepted ops/s",
                group(two.devices as f64)
            ),
            two.accepted_ops_per_s,
            "ops/s",
            "1 process",
            one.accepted_ops_per_s,
            Target::None,
        ));
    }
    out.extend(held_figures(sqlite, pg));
    for (p, s) in pg.loops.iter().zip(&sqlite.loops) {
        out.push(Figure::against(
            format!(
                "PostgreSQL against SQLite, closed loop, {} devices, 1 process each: accepted ops/s",
                group(p.devices as f64)
            ),
            p.accepted_ops_per_s,
            "ops/s",
            "SQLite",
            s.accepted_ops_per_s,
            Target::RatioAtLeast { min: 1.0 },
        ));
        // What one server process serves per second of its own CPU: on a machine of its own
        // (the database elsewhere, as a PostgreSQL deployment has it), its capacity. On this
        // machine the database's CPU is taken from the same cores, which the row above counts.
        out.push(Figure::against(
            format!(
                "PostgreSQL against SQLite, closed loop, {} devices: accepted ops per CPU-second of the server process",
                group(p.devices as f64)
            ),
            1e6 / p.server_cpu_us_per_op.max(f64::MIN_POSITIVE),
            "ops",
            "SQLite",
            1e6 / s.server_cpu_us_per_op.max(f64::MIN_POSITIVE),
            Target::RatioAtLeast { min: 1.0 },
        ));
    }
    out
}

/// The loop with each server process held to a share of a core, so that the server processes
/// and not the database are what limits it: PostgreSQL against SQLite with one process each,
/// and two PostgreSQL processes against one.
fn held_figures(sqlite: &Measured, pg: &Measured) -> Vec<Figure> {
    let (Some(s), [one, two, ..]) = (sqlite.held.first(), pg.held.as_slice()) else {
        return vec![];
    };
    let cores = one.server_cores.unwrap_or_default();
    let held = |b: &str| format!("{b}, each server process held to {cores} of a core");
    let mut out = Vec::new();
    for (b, l) in [
        ("SQLite", s),
        ("PostgreSQL", one),
        ("PostgreSQL, 2 processes", two),
    ] {
        out.extend(loop_figures(&held(b), None, std::slice::from_ref(l)));
    }
    out.push(Figure::against(
        format!(
            "PostgreSQL against SQLite, each server process held to {cores} of a core, {} devices, 1 process each: accepted ops/s",
            group(one.devices as f64)
        ),
        one.accepted_ops_per_s,
        "ops/s",
        "SQLite",
        s.accepted_ops_per_s,
        Target::RatioAtLeast { min: 1.0 },
    ));
    out.push(Figure::against(
        format!(
            "PostgreSQL, each server process held to {cores} of a core, {} devices: 2 processes against 1, accepted ops/s",
            group(two.devices as f64)
        ),
        two.accepted_ops_per_s,
        "ops/s",
        "1 process",
        one.accepted_ops_per_s,
        Target::RatioAtLeast { min: 1.2 },
    ));
    out
}
