//! Scenario 1, local edit: a gridworker reports hazards and changes households' phones on an
//! encrypted store, each one transaction writing the state and the outbox. References: a raw
//! single-row commit on a connection opened the same way, and a raw commit of one row in each
//! of four tables (about the pages an edit writes: the cost of the pages alone).

use std::time::{Duration, Instant};

use gridwork_core::seed::{SeedSize, seed_subdistrict};
use gridwork_domain::model::{Building, Case, CaseKind, Household, Severity};
use serde_json::json;
use uuid::Uuid;

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Config, count_raw_pages, device, raw_connection, wal_pages};
use crate::report::{Figure, ScenarioResult, Target};
use crate::stats::{Latencies, rate};

/// Runs of the whole scenario (a fresh store each): every figure is reported as the median
/// with its min and max (`report::combine`).
pub const RUNS: usize = 3;

pub fn run(cfg: &Config) -> ScenarioResult {
    crate::report::combine((0..RUNS).map(|_| run_once(cfg)).collect())
}

fn run_once(cfg: &Config) -> ScenarioResult {
    let edits: usize = cfg.pick(4_000, 60);
    let warmup: usize = cfg.pick(400, 10);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let gw = device(dir.path(), STORE);
    let size = SeedSize {
        grid_layers: 1,
        communities: 1,
        grids: 1,
        buildings: cfg.pick(100, 4),
        households: 5,
        stations: 1,
    };
    let seeded = seed_subdistrict(&gw, 3, size, |_, _| {}).expect("the grid seeds");
    let buildings: Vec<Building> = seeded.buildings.clone();
    let households: Vec<Household> = seeded.households.clone();

    let mut n = 0usize;
    // Each edit says what it was (for the pages' breakdown).
    let mut edit = || -> &'static str {
        n += 1;
        if n.is_multiple_of(2) {
            let b = &buildings[n % buildings.len()];
            gw.open_case(Case {
                id: Uuid::nil(),
                kind: CaseKind::Hazard,
                title: "电动车楼道充电".into(),
                category: "ebike_indoors".into(),
                severity: Severity::High,
                area_id: b.grid_id,
                building_id: Some(b.id),
                household_id: None,
                position: b.position,
                opened_at_ms: 0,
                patrol_id: None,
            })
            .expect("the hazard is reported");
            HAZARD
        } else {
            let h = &households[n % households.len()];
            gw.update::<Household>(h.id, |h| {
                h.phone = Some(format!("139{:08}", n));
            })
            .expect("the household changes");
            PHONE
        }
    };
    for _ in 0..warmup {
        edit();
    }
    let mut times = Vec::with_capacity(edits);
    let pages_before = gw.pages_written();
    let committing_before = gw.time_committing_edits();
    let started = Instant::now();
    for _ in 0..edits {
        let t = Instant::now();
        edit();
        times.push(t.elapsed());
    }
    let total = started.elapsed();
    // The edits' commits alone: writing their pages. An edit can never run faster than this,
    // whatever its own work (loads, checks, encoding) is made to cost.
    let committing = gw.time_committing_edits() - committing_before;
    let pages = gw
        .pages_written()
        .zip(pages_before)
        .map(|(after, before)| (after - before) as f64 / edits as f64);
    let pending = gw.pending_count().expect("the outbox counts");
    // Untimed, after the timed edits: which b-trees each kind of edit writes its pages to.
    let store = dir.path().join(STORE);
    let mut tail = wal_pages::LogTail::new(&store).expect("the store's log reads");
    let mut commits: [(&str, Vec<Vec<u32>>); 2] = [(HAZARD, Vec::new()), (PHONE, Vec::new())];
    for _ in 0..cfg.pick(400, 20) {
        let kind = edit();
        let pages = tail.committed_pages().expect("the store's log reads");
        let (_, list) = commits
            .iter_mut()
            .find(|(k, _)| *k == kind)
            .expect("a kind");
        list.push(pages);
    }
    let owners = wal_pages::btree_of_pages(&raw_connection(dir.path(), STORE))
        .expect("dbstat reads the store");
    let by_btree: serde_json::Map<String, serde_json::Value> = commits
        .iter()
        .map(|(kind, list)| {
            let by = wal_pages::per_commit_by_btree(list, &owners);
            let total: f64 = by.values().sum();
            (
                kind.to_string(),
                json!({ "edits": list.len(), "pages_per_edit": total, "by_btree": by }),
            )
        })
        .collect();

    let mut raw = raw_connection(dir.path(), "raw.db");
    let raw_written = count_raw_pages(&mut raw);
    let single = RawCommits::run(&raw, &raw_written, &["raw_commit"], warmup, edits);
    let (raw_times, raw_total, raw_pages) = (single.times, single.total, single.pages);
    // The pages' own floor: a raw commit of one row in each of four tables writes about the
    // pages an edit writes (3.9), with no logic around them; what an edit costs above it is
    // its own work (loads, checks, encoding), not the pages.
    let wide_tables = ["raw_wide_0", "raw_wide_1", "raw_wide_2", "raw_wide_3"];
    let wide = RawCommits::run(&raw, &raw_written, &wide_tables, warmup, edits);
    let (wide_pages, wide_s) = (wide.pages, rate(edits as u64, wide.total));

    let ours = Latencies::from_durations(&times);
    let theirs = Latencies::from_durations(&raw_times);
    let edits_s = rate(edits as u64, total);
    let ceiling_s = rate(edits as u64, committing);
    let raw_s = rate(edits as u64, raw_total);
    ScenarioResult {
        scenario: "local_edit".into(),
        title: "1. Local edit".into(),
        figures: vec![
            Figure::against(
                "edits/s (hazard report or household field, state + outbox, one transaction)",
                edits_s,
                "/s",
                "raw single-row commit",
                raw_s,
                Target::RatioAtLeast { min: 1.0 / 3.0 },
            ),
            Figure::against(
                "edits/s against a raw commit of one row in each of four tables (the pages' floor)",
                edits_s,
                "/s",
                "raw four-table commit",
                wide_s,
                Target::None,
            ),
            Figure::against(
                "the ceiling: edits/s if nothing but each edit's commit (its pages) took time",
                ceiling_s,
                "/s",
                "raw single-row commit",
                raw_s,
                Target::None,
            ),
            Figure::new("p50 latency", ours.p50_ms(), "ms", Target::None),
            Figure::against(
                "encrypted pages written per edit (log frames)",
                pages.unwrap_or(f64::NAN),
                "",
                "raw single-row commit",
                raw_pages,
                Target::None,
            ),
            Figure::against(
                "p99 latency",
                ours.p99_ms(),
                "ms",
                "raw commit p99",
                theirs.p99_ms(),
                Target::Below { max: 1.0 },
            ),
        ],
        raw: json!({
            "edits": edits,
            "warmup": warmup,
            "outbox_pending_after": pending,
            "seconds": total.as_secs_f64(),
            "edits_per_s": edits_s,
            "commit_seconds": committing.as_secs_f64(),
            "commit_share": committing.as_secs_f64() / total.as_secs_f64(),
            "ceiling_edits_per_s": ceiling_s,
            "p50_ms": ours.p50_ms(),
            "p99_ms": ours.p99_ms(),
            "p999_ms": ours.percentile_ms(99.9),
            "pages_per_edit": pages,
            "raw_pages_per_commit": raw_pages,
            "max_ms": ours.max_ms(),
            "raw_commits_per_s": raw_s,
            "raw_p50_ms": theirs.p50_ms(),
            "raw_p99_ms": theirs.p99_ms(),
            "raw_max_ms": theirs.max_ms(),
            "raw_four_table_commits_per_s": wide_s,
            "raw_four_table_pages_per_commit": wide_pages,
            "pages_by_kind_of_edit": by_btree,
            "encrypted": true,
        }),
        not_measured: None,
    }
}

/// The device store's file name in the run's folder.
const STORE: &str = "device.db";

/// The two kinds of edit the scenario alternates.
const HAZARD: &str = "hazard report";
const PHONE: &str = "household's phone";

/// Raw commits of one row in each of `tables` (created here) on a connection opened like the
/// store, after `warmup` untimed: each commit's time, the whole time and the pages per commit.
struct RawCommits {
    times: Vec<Duration>,
    total: Duration,
    pages: f64,
}

impl RawCommits {
    fn run(
        raw: &rusqlite::Connection,
        written: &AtomicU64,
        tables: &[&str],
        warmup: usize,
        commits: usize,
    ) -> RawCommits {
        for t in tables {
            raw.execute_batch(&format!(
                "CREATE TABLE {t} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"
            ))
            .expect("the raw table");
        }
        let commit = |i: usize| {
            raw.execute_batch("BEGIN IMMEDIATE").expect("begin");
            for t in tables {
                raw.prepare_cached(&format!("INSERT INTO {t} (v) VALUES (?1)"))
                    .expect("prepare")
                    .execute([format!("139{i:08}")])
                    .expect("insert");
            }
            raw.execute_batch("COMMIT").expect("commit");
        };
        for i in 0..warmup {
            commit(i);
        }
        let mut times = Vec::with_capacity(commits);
        let pages_before = written.load(Ordering::Relaxed);
        let started = Instant::now();
        for i in 0..commits {
            let t = Instant::now();
            commit(i);
            times.push(t.elapsed());
        }
        let total = started.elapsed();
        let pages = (written.load(Ordering::Relaxed) - pages_before) as f64 / commits as f64;
        RawCommits {
            times,
            total,
            pages,
        }
    }
}
