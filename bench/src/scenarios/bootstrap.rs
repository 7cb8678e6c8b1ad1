//! Scenario 4, bootstrap: a new phone takes its scope from a real server on loopback (SQLite
//! storage seeded directly), through HTTP and the device's real sync code, in a child process
//! (this binary again, `bootstrap-child`) whose peak memory is its own.
//!
//! A gridworker's phone takes a grid; a dispatcher's phone takes a subdistrict. Bytes on the
//! wire are counted by a TCP proxy between the phone and the server (both directions, the whole
//! session: enrollment, every snapshot page, the first pull).

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use gridwork_core::new_id;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::sync::Role;
use gridwork_server::storage::SqliteStorage;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Config, bench_key};
use crate::dataset::{DAY_MS, Size, Writer, now_ms, subdistrict};
use crate::report::{Figure, ScenarioResult, Target};
use crate::server::{self, CountingProxy};

/// What the child reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildReport {
    /// The bootstrap (sync) itself, enrollment excluded.
    pub seconds: f64,
    pub snapshot_records: u64,
    /// Records held at the end.
    pub held: usize,
    /// Body bytes as the device counted them (decompressed).
    pub body_bytes: u64,
    /// Peak resident memory of the child (`VmHWM`), in kB.
    pub vm_hwm_kb: u64,
}

/// The child: enrolls with `code`, bootstraps, prints a [`ChildReport`] as one JSON line.
pub async fn child(server: &str, code: &str, store: &str) -> ChildReport {
    let gw = Gridwork::open_with(store, OpenOptions::with_key(bench_key())).expect("store");
    let net = HttpTransport::new(server, None).expect("transport");
    gw.enroll(&net, code, "bench phone").await.expect("enrolls");
    let started = Instant::now();
    let report = gw.sync_now(&net).await.expect("bootstraps");
    let seconds = started.elapsed().as_secs_f64();
    let held = gw.record_ids().expect("reads").len();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let vm_hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ChildReport {
        seconds,
        snapshot_records: report.snapshot_records,
        held,
        body_bytes: report.bytes,
        vm_hwm_kb,
    }
}

/// How many times each phone bootstraps from the same seeded server: every figure is reported
/// as the median with its min and max (`report::combine`).
pub const RUNS: usize = 3;

struct Measured {
    size: Size,
    seed_seconds: f64,
    seeded_ops: usize,
    /// One per run: the bytes on the wire and the child's report.
    runs: Vec<(u64, ChildReport)>,
}

/// Seeds a server once, then bootstraps [`RUNS`] new phones from it one after the other, each
/// a fresh store, a fresh enrollment and a fresh proxy (so bytes are counted per run).
async fn measure(size: Size, role: Role, grid_scope: bool) -> Measured {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("storage"));
    let mut w = Writer::new(new_id(), now_ms() - 30 * DAY_MS);
    let data = subdistrict(&mut w, size, 11);
    let scope = if grid_scope {
        vec![data.grids[0]]
    } else {
        vec![data.subdistrict]
    };
    let seeding = Instant::now();
    let seeded_ops = server::seed(storage.as_ref(), w.device, data.ops).await;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    let handle = server::start(storage.clone()).await;
    let mut runs = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let proxy = CountingProxy::start(handle.local_addr()).await;
        let code = server::user_code(storage.as_ref(), "王芳", role, scope.clone()).await;
        let store = dir.path().join(format!("phone-{run}.db"));
        let exe = std::env::current_exe().expect("this binary");
        let url = proxy.url.clone();
        let store_arg = store.to_string_lossy().to_string();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(exe)
                .args([
                    "bootstrap-child",
                    "--server",
                    &url,
                    "--code",
                    &code,
                    "--store",
                    &store_arg,
                ])
                .output()
                .expect("the child runs")
        })
        .await
        .expect("joins");
        assert!(
            out.status.success(),
            "the bootstrap child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let child: ChildReport = serde_json::from_slice(&out.stdout).expect("the child's report");
        runs.push((proxy.bytes(), child));
        // The phone's store goes before the next run (disk: a subdistrict is hundreds of MB).
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", store.to_string_lossy()));
        }
    }
    handle.shutdown().await.expect("the server stops");
    Measured {
        size,
        seed_seconds,
        seeded_ops,
        runs,
    }
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    let grid_size = cfg.pick(
        Size::GRID,
        Size {
            grids: 1,
            buildings: 10,
            households: 50,
            residents: 150,
            cases: 30,
        },
    );
    let sub_size = cfg.pick(
        Size::SUBDISTRICT,
        Size {
            grids: 4,
            buildings: 100,
            households: 900,
            residents: 2_500,
            cases: 200,
        },
    );
    let grid = measure(grid_size, Role::Gridworker, true).await;
    let sub = measure(sub_size, Role::Dispatcher, false).await;
    let raw = |m: &Measured, run: usize| {
        let (wire_bytes, child) = &m.runs[run];
        json!({
            "size": m.size,
            "records_in_scope": m.size.records(),
            "server_seed_ops": m.seeded_ops,
            "server_seed_seconds": m.seed_seconds,
            "seconds": child.seconds,
            "snapshot_records": child.snapshot_records,
            "held": child.held,
            "wire_bytes": wire_bytes,
            "body_bytes": child.body_bytes,
            "peak_rss_mb": child.vm_hwm_kb as f64 / 1024.0,
        })
    };
    let runs = (0..RUNS)
        .map(|run| {
            let (grid_wire, grid_child) = &grid.runs[run];
            let (sub_wire, sub_child) = &sub.runs[run];
            ScenarioResult {
                scenario: "bootstrap".into(),
                title: "4. Bootstrap".into(),
                figures: vec![
                    Figure::new(
                        format!(
                            "grid ({} records): time",
                            crate::report::group(grid.size.records() as f64)
                        ),
                        grid_child.seconds,
                        "s",
                        Target::Below { max: 0.2 },
                    ),
                    Figure::new(
                        "grid: bytes on the wire",
                        *grid_wire as f64 / 1e6,
                        "MB",
                        Target::None,
                    ),
                    Figure::new(
                        format!(
                            "subdistrict ({} records): time",
                            crate::report::group(sub.size.records() as f64)
                        ),
                        sub_child.seconds,
                        "s",
                        Target::Below { max: 10.0 },
                    ),
                    Figure::new(
                        "subdistrict: bytes on the wire",
                        *sub_wire as f64 / 1e6,
                        "MB",
                        Target::None,
                    ),
                    Figure::new(
                        "subdistrict: peak memory of the phone process",
                        sub_child.vm_hwm_kb as f64 / 1024.0,
                        "MB",
                        Target::Below { max: 150.0 },
                    ),
                ],
                raw: json!({ "grid": raw(&grid, run), "subdistrict": raw(&sub, run) }),
                not_measured: None,
            }
        })
        .collect();
    crate::report::combine(runs)
}
