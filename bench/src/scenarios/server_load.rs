//! Scenario 5, server under load: 200 phones on loopback (gridworkers, one grid each), each
//! with 50 offline edits, all syncing at once (push, then pull), on the SQLite backend and on
//! the PostgreSQL backend beside it. The phones are real device cores over HTTP; every request
//! is timed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridwork_core::new_id;
use gridwork_core::sync::transport::Sized;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions, Transport, TransportError};
use gridwork_domain::ids::Id;
use gridwork_domain::model::Household;
use gridwork_domain::sync::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, Role, SnapshotResponse,
};
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, SqliteStorage, Storage};
use serde_json::json;

use super::Config;
use crate::dataset::{DAY_MS, Size, Writer, now_ms, subdistrict};
use crate::report::{Figure, ScenarioResult, Target};
use crate::server;
use crate::stats::{Latencies, rate};

/// [`HttpTransport`] that times every request.
struct Timed {
    inner: HttpTransport,
    times: Arc<Mutex<Vec<Duration>>>,
}

impl Timed {
    async fn time<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let t = Instant::now();
        let out = f.await;
        self.times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(t.elapsed());
        out
    }
}

impl Transport for Timed {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        self.inner.enroll(req).await
    }
    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        self.time(self.inner.push(req)).await
    }
    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        self.time(self.inner.pull(after, limit, wait_s)).await
    }
    async fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        self.inner.snapshot(after, limit).await
    }
    fn set_token(&self, token: Option<String>) {
        self.inner.set_token(token)
    }
}

/// What one backend did.
struct Load {
    devices: usize,
    ops_each: usize,
    accepted: u64,
    pulled: u64,
    seconds: f64,
    requests: Latencies,
}

async fn measure<S: Storage>(storage: Arc<S>, devices: usize, ops_each: usize) -> Load {
    let size = Size {
        grids: devices,
        buildings: devices * 2,
        households: devices * 8,
        residents: 0,
        cases: 0,
    };
    let mut w = Writer::new(new_id(), now_ms() - 30 * DAY_MS);
    let data = subdistrict(&mut w, size, 5);
    server::seed(storage.as_ref(), w.device, data.ops.clone()).await;
    let handle = server::start(storage.clone()).await;
    let times = Arc::new(Mutex::new(Vec::new()));
    let mut phones = Vec::new();
    for (g, grid) in data.grids.iter().enumerate() {
        let code =
            server::user_code(storage.as_ref(), "网格员", Role::Gridworker, vec![*grid]).await;
        let gw = Gridwork::open_in_memory(OpenOptions::default()).expect("a phone");
        let net = Timed {
            inner: HttpTransport::new(&handle.url(), None).expect("transport"),
            times: times.clone(),
        };
        gw.enroll(&net, &code, "phone").await.expect("enrolls");
        gw.sync_now(&net).await.expect("bootstraps");
        let mine: Vec<Id> = data
            .households
            .iter()
            .filter(|(_, b)| data.buildings[*b].1 == g)
            .map(|(id, _)| *id)
            .collect();
        for i in 0..ops_each {
            gw.update::<Household>(mine[i % mine.len()], |h| {
                h.phone = Some(format!("137{:04}{:04}", g, i));
            })
            .expect("an offline edit");
        }
        phones.push(Arc::new((gw, net)));
    }
    times.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let started = Instant::now();
    let tasks: Vec<_> = phones
        .iter()
        .map(|p| {
            let p = p.clone();
            tokio::spawn(async move { p.0.sync_now(&p.1).await.expect("syncs") })
        })
        .collect();
    let mut accepted = 0;
    let mut pulled = 0;
    for t in tasks {
        let r = t.await.expect("joins");
        accepted += r.pushed;
        pulled += r.pulled;
    }
    let seconds = started.elapsed().as_secs_f64();
    handle.shutdown().await.expect("stops");
    let requests = Latencies::from_durations(&times.lock().unwrap_or_else(|p| p.into_inner()));
    Load {
        devices,
        ops_each,
        accepted,
        pulled,
        seconds,
        requests,
    }
}

fn figures(backend: &str, l: &Load) -> Vec<Figure> {
    vec![
        Figure::new(
            format!("{backend}: accepted ops/s"),
            l.accepted as f64 / l.seconds,
            "ops/s",
            Target::None,
        ),
        Figure::new(
            format!("{backend}: request p50"),
            l.requests.p50_ms(),
            "ms",
            Target::None,
        ),
        Figure::new(
            format!("{backend}: request p99"),
            l.requests.p99_ms(),
            "ms",
            Target::None,
        ),
    ]
}

fn raw(l: &Load) -> serde_json::Value {
    json!({
        "devices": l.devices,
        "ops_each": l.ops_each,
        "accepted": l.accepted,
        "pulled": l.pulled,
        "seconds": l.seconds,
        "accepted_ops_per_s": rate(l.accepted, Duration::from_secs_f64(l.seconds)),
        "requests": l.requests.count(),
        "p50_ms": l.requests.p50_ms(),
        "p99_ms": l.requests.p99_ms(),
        "max_ms": l.requests.max_ms(),
    })
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    let devices: usize = cfg.pick(200, 6);
    let ops_each: usize = cfg.pick(50, 5);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = Arc::new(SqliteStorage::open(dir.path().join("server.db")).expect("storage"));
    let on_sqlite = measure(sqlite, devices, ops_each).await;
    let mut figs = figures("SQLite", &on_sqlite);
    let mut not_measured = None;
    let mut pg_raw = serde_json::Value::Null;
    match &cfg.postgres {
        Ok(url) => {
            let scratch = ScratchDatabase::create(url)
                .await
                .expect("a scratch PostgreSQL database");
            let pg = Arc::new(PgStorage::connect(scratch.url()).await.expect("PostgreSQL"));
            let on_pg = measure(pg, devices, ops_each).await;
            figs.extend(figures("PostgreSQL", &on_pg));
            figs.push(Figure::against(
                "PostgreSQL against SQLite, accepted ops/s",
                on_pg.accepted as f64 / on_pg.seconds,
                "ops/s",
                "SQLite",
                on_sqlite.accepted as f64 / on_sqlite.seconds,
                Target::None,
            ));
            pg_raw = raw(&on_pg);
        }
        Err(why) => {
            not_measured = Some(format!("the PostgreSQL row was not measured: {why}"));
        }
    }
    ScenarioResult {
        scenario: "server_load".into(),
        title: "5. Server under load".into(),
        figures: figs,
        raw: json!({ "sqlite": raw(&on_sqlite), "postgres": pg_raw }),
        not_measured,
    }
}
