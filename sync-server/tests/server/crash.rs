//! Kill -9 the `gridwork-server` process at random instants while three phones push to it,
//! restart it on the same database, many times. The phones (real device cores) retry; at the
//! end the log holds every operation a phone saw acknowledged, each exactly once, and every
//! phone converges.
//!
//! `GRIDWORK_SERVER_KILLS=N` sets the number of kills (default 100); `GRIDWORK_LONG_FAULTS=1`
//! makes it 1,000.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use gridwork_core::seed::{SeedSize, seed_subdistrict};
use gridwork_core::sync::transport::Sized;
use gridwork_core::{Gridwork, HttpTransport, OpenOptions, Transport, TransportError};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Building, Household, HouseholdKind};
use gridwork_domain::sync::*;
use gridwork_server::storage::{SqliteStorage, Storage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cli::{BIN, Running};

fn kills() -> usize {
    let long = std::env::var("GRIDWORK_LONG_FAULTS").is_ok_and(|v| v == "1");
    std::env::var("GRIDWORK_SERVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if long { 1000 } else { 100 })
}

/// Starts `gridwork-server serve` on the database; returns it and its URL.
fn start_server(db: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .env_remove("GRIDWORK_DATABASE_URL")
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
        .to_string();
    (child, url)
}

/// The real transport, counting the pushes in flight (to tell how many kills hit one).
struct CountingPushes<'a> {
    inner: HttpTransport,
    in_flight: &'a AtomicU64,
}

impl Transport for CountingPushes<'_> {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        self.inner.enroll(req).await
    }

    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.push(req).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        self.inner.pull(after, limit, wait_s).await
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

/// What the phones did, shared with the test.
#[derive(Debug, Default)]
struct Tally {
    /// Operations the phones made (read from their outboxes before each sync).
    made: BTreeSet<Id>,
    /// Operations that left an outbox because the server answered accepted or duplicate.
    acknowledged: BTreeSet<Id>,
    syncs: u64,
    failed_syncs: u64,
}

/// What the phones and the test share.
#[derive(Debug, Default)]
struct Shared {
    url: RwLock<String>,
    stop: AtomicBool,
    /// Pushes under way right now, across the phones.
    pushes_in_flight: AtomicU64,
    tally: Mutex<Tally>,
}

/// One phone: edits a household or adds one, pushes, again and again until told to stop.
async fn phone_at_work(
    gw: Arc<Gridwork>,
    index: usize,
    buildings: Vec<Building>,
    shared: Arc<Shared>,
) {
    let mut rng = StdRng::seed_from_u64(index as u64);
    let token = gw.token().unwrap();
    let mut mine: Vec<Id> = Vec::new();
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        for _ in 0..rng.random_range(1..=3) {
            n += 1;
            if mine.is_empty() || rng.random_bool(0.3) {
                let building = &buildings[rng.random_range(0..buildings.len())];
                let h = gw
                    .create(Household {
                        id: Id::nil(),
                        building_id: building.id,
                        unit: format!("{index}-{n}"),
                        kind: HouseholdKind::Rental,
                        phone: None,
                        archived: false,
                    })
                    .unwrap();
                mine.push(h.id);
            } else {
                let h = mine[rng.random_range(0..mine.len())];
                gw.update::<Household>(h, |x| x.phone = Some(format!("13{index}{n:08}")))
                    .unwrap();
            }
        }
        let before: BTreeSet<Id> = outbox(&gw);
        let url = shared.url.read().unwrap().clone();
        let net = CountingPushes {
            inner: HttpTransport::new(&url, token.clone()).unwrap(),
            in_flight: &shared.pushes_in_flight,
        };
        let result = gw.sync_now(&net).await;
        let after = outbox(&gw);
        {
            let mut t = shared.tally.lock().unwrap();
            t.made.extend(before.iter().copied());
            t.acknowledged.extend(before.difference(&after).copied());
            t.syncs += 1;
            t.failed_syncs += u64::from(result.is_err());
        }
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn outbox(gw: &Gridwork) -> BTreeSet<Id> {
    gw.pending_ops(usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(|e| e.op.id)
        .collect()
}

#[test]
fn a_server_killed_while_phones_push_loses_nothing_it_acknowledged_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let codes: Vec<String> = rt.block_on(async {
        let storage = SqliteStorage::open(&db).unwrap();
        let mut codes = Vec::new();
        for name in ["陈静", "王芳", "李娜", "张伟"] {
            let u = storage
                .create_user(name.into(), Role::Admin, vec![])
                .await
                .unwrap();
            codes.push(
                storage
                    .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
                    .await
                    .unwrap(),
            );
        }
        codes
    });
    let (child, first_url) = start_server(&db);
    let mut server = Running(child);
    let shared = Arc::new(Shared {
        url: RwLock::new(first_url),
        ..Shared::default()
    });
    let url = &shared.url;

    // The centre loads a small grid; three phones enroll and take it.
    let open = || Arc::new(Gridwork::open_in_memory(OpenOptions::default()).unwrap());
    let centre = open();
    let phones: Vec<Arc<Gridwork>> = (0..3).map(|_| open()).collect();
    let seeded = rt.block_on(async {
        let net = HttpTransport::new(&url.read().unwrap(), None).unwrap();
        centre.enroll(&net, &codes[0], "centre").await.unwrap();
        let seeded = seed_subdistrict(&centre, 9, SeedSize::TINY, |_, _| {}).unwrap();
        centre.sync_now(&net).await.unwrap();
        for (p, code) in phones.iter().zip(&codes[1..]) {
            let net = HttpTransport::new(&url.read().unwrap(), None).unwrap();
            p.enroll(&net, code, "phone").await.unwrap();
            p.sync_now(&net).await.unwrap();
        }
        seeded
    });

    let workers: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            rt.spawn(phone_at_work(
                p.clone(),
                i,
                seeded.buildings.clone(),
                shared.clone(),
            ))
        })
        .collect();

    // Kill the server at random instants of its life while the phones push; restart it on the
    // same database each time.
    let mut rng = StdRng::seed_from_u64(0x7365_7276);
    let mut mid_push = 0;
    let acknowledged = || shared.tally.lock().unwrap().acknowledged.len();
    for _ in 0..kills() {
        let before = acknowledged();
        std::thread::sleep(Duration::from_micros(rng.random_range(10_000..100_000)));
        // On a busy machine a restarted server may not have served a push yet when its time is
        // up: it lives on until one is acknowledged (5 s at most), so every kill lands on a
        // server that has been working and the phones get pushes through between kills.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while acknowledged() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        mid_push += usize::from(shared.pushes_in_flight.load(Ordering::SeqCst) > 0);
        server.0.kill().unwrap(); // SIGKILL
        server.0.wait().unwrap();
        let (child, next) = start_server(&db);
        server = Running(child);
        *url.write().unwrap() = next;
    }
    let acknowledged_while_killing = shared.tally.lock().unwrap().acknowledged.len();
    shared.stop.store(true, Ordering::SeqCst);
    for w in workers {
        rt.block_on(w).unwrap();
    }

    // The server stays up now: each phone syncs until its outbox is empty, and all converge.
    rt.block_on(async {
        let url = url.read().unwrap().clone();
        for _ in 0..2 {
            for p in phones.iter().chain([&centre]) {
                let net = HttpTransport::new(&url, p.token().unwrap()).unwrap();
                let before = outbox(p);
                p.sync_now(&net).await.unwrap();
                let mut t = shared.tally.lock().unwrap();
                t.made.extend(before.iter().copied());
                t.acknowledged
                    .extend(before.difference(&outbox(p)).copied());
            }
        }
    });
    let digest = centre.state_digest().unwrap();
    for p in &phones {
        assert_eq!(p.state_digest().unwrap(), digest);
        assert_eq!(p.pending_count().unwrap(), 0);
        assert!(p.rejected_ops().unwrap().is_empty());
    }
    drop(server);

    // The log: intact, every acknowledged operation in it, each exactly once.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let ids: Vec<Id> = conn
        .prepare("SELECT op_id FROM ops")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|id| id.unwrap().parse().unwrap())
        .collect();
    let stored: BTreeSet<Id> = ids.iter().copied().collect();
    assert_eq!(stored.len(), ids.len(), "an operation stored twice");
    let t = shared.tally.lock().unwrap();
    let lost: Vec<&Id> = t.acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(
        t.made.is_subset(&stored),
        "a phone's operation never arrived"
    );
    assert!(
        acknowledged_while_killing > kills(),
        "the phones got pushes through between kills ({acknowledged_while_killing} operations \
         acknowledged over {} kills, {mid_push} with a push in flight)",
        kills()
    );
    eprintln!(
        "server crash: {} kill -9 of gridwork-server while 3 phones pushed ({mid_push} with a \
         push in flight); {acknowledged_while_killing} operations acknowledged while it was \
         being killed ({} in all), all in the log exactly once; syncs failed {}/{}; log {} \
         operations, integrity ok; lost 0, stored twice 0",
        kills(),
        t.acknowledged.len(),
        t.failed_syncs,
        t.syncs,
        ids.len()
    );
}
