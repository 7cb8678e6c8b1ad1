//! Scenario 6, alarm latency: the dispatcher raises a fire alarm and pushes it; the crew's
//! phone is waiting in a long poll. The figure is the time from the start of the dispatcher's
//! push to the crew's long poll returning with the alarm applied, on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwork_core::new_id;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::sync::Role;
use gridwork_server::storage::SqliteStorage;
use serde_json::json;

use super::Config;
use crate::dataset::{DAY_MS, Size, Writer, now_ms, subdistrict};
use crate::report::{Figure, ScenarioResult, Target};
use crate::server;
use crate::stats::Latencies;

async fn phone(url: &str, code: &str) -> (Gridwork, HttpTransport) {
    let gw = Gridwork::open_in_memory(OpenOptions::default()).expect("a phone");
    let net = HttpTransport::new(url, None).expect("transport");
    gw.enroll(&net, code, "phone").await.expect("enrolls");
    gw.sync_now(&net).await.expect("bootstraps");
    (gw, net)
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    let rounds: usize = cfg.pick(100, 3);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("storage"));
    let size = Size {
        grids: 6,
        buildings: 60,
        households: 300,
        residents: 600,
        cases: 30,
    };
    let mut w = Writer::new(new_id(), now_ms() - 30 * DAY_MS);
    let data = subdistrict(&mut w, size, 9);
    server::seed(storage.as_ref(), w.device, data.ops.clone()).await;
    let handle = server::start(storage.clone()).await;
    let dispatcher_code = server::user_code(
        storage.as_ref(),
        "指挥中心",
        Role::Dispatcher,
        vec![data.subdistrict],
    )
    .await;
    let crew_code = server::user_code(
        storage.as_ref(),
        "队员",
        Role::FireCrew,
        vec![data.stations[0]],
    )
    .await;
    let (dispatcher, dnet) = phone(&handle.url(), &dispatcher_code).await;
    let crew = Arc::new(phone(&handle.url(), &crew_code).await);
    // Buildings of the first community: their station is the crew's.
    let buildings: Vec<_> = data
        .buildings
        .iter()
        .filter(|(_, g)| *g == 0)
        .map(|(id, _)| *id)
        .collect();

    let mut times = Vec::with_capacity(rounds);
    let mut applied = 0u64;
    for i in 0..rounds {
        let waiting = crew.clone();
        let poll = tokio::spawn(async move {
            let r = waiting.0.wait_for_changes(&waiting.1, 30).await;
            (Instant::now(), r)
        });
        // Let the long poll reach the server and park.
        tokio::time::sleep(Duration::from_millis(40)).await;
        dispatcher
            .raise_alarm(buildings[i % buildings.len()], "闻到烟味", "smoke", None)
            .expect("the alarm is raised");
        let pushed = Instant::now();
        dispatcher
            .sync_now(&dnet)
            .await
            .expect("the alarm is pushed");
        let (returned, report) = poll.await.expect("joins");
        let report = report.expect("the long poll returns");
        applied += report.pulled + report.gained;
        times.push(returned.saturating_duration_since(pushed));
    }
    handle.shutdown().await.expect("stops");
    let l = Latencies::from_durations(&times);
    ScenarioResult {
        scenario: "alarm".into(),
        title: "6. Alarm latency".into(),
        figures: vec![
            Figure::new(
                "push → crew's long poll returns, p50",
                l.p50_ms(),
                "ms",
                Target::None,
            ),
            Figure::new(
                "push → crew's long poll returns, p99",
                l.p99_ms(),
                "ms",
                Target::Below { max: 100.0 },
            ),
        ],
        raw: json!({
            "rounds": rounds,
            "crew_applied": applied,
            "p50_ms": l.p50_ms(),
            "p99_ms": l.p99_ms(),
            "max_ms": l.max_ms(),
        }),
        not_measured: None,
    }
}
