//! The bindings against a real gridwork-server (in-process, on its own runtime), as a phone's
//! app uses them: where the work of `sync_now` runs, what the caller's thread is left with,
//! observers on their own thread, lifecycle (offline, shutdown, one client per store), change
//! notifications by kind, and a private CA.
//!
//! The caller is a single-threaded runtime on the test's own thread, standing for an app's
//! main dispatcher: it polls `sync_now`'s future exactly as uniffi does (on the awaiting
//! thread). Figures (the caller's longest stall, read latencies during a bootstrap) are printed
//! for docs/benchmarks.md, never asserted; the assertions are structural (which thread did the
//! store's work).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gridwork_core::seed::{SeedSize, seed_subdistrict};
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::sync::Role;
use gridwork_ffi::cases::RecordKind;
use gridwork_ffi::observe::{ChangeObserver, ObserverError, SyncObserver};
use gridwork_ffi::sync::{SyncProgress, SyncState};
use gridwork_ffi::worker::WORKER_THREAD_NAME;
use gridwork_ffi::{GridworkClient, GridworkError};
use gridwork_server::storage::{SqliteStorage, Storage};
use tracing_subscriber::layer::SubscriberExt;

// -- a tracing layer noting the thread of each event of the core's sync steps ---------------

/// (thread name, message) of every event of the core's sync steps (`bootstrap page`,
/// `push batch`, `pull page`): each is logged in the same poll as its SQLite transaction.
fn step_events() -> &'static Mutex<Vec<(String, String)>> {
    static EVENTS: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    EVENTS.get_or_init(Mutex::default)
}

struct ThreadNotes;

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ThreadNotes {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !event.metadata().target().starts_with("gridwork_core::sync") {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if ["bootstrap page", "push batch", "pull page"].contains(&message.0.as_str()) {
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_string();
            step_events().lock().unwrap().push((thread, message.0));
        }
    }
}

fn note_threads() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(ThreadNotes);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

// -- a real server with a seeded subdistrict ---------------------------------------------------

struct Server {
    runtime: tokio::runtime::Runtime,
    storage: Arc<SqliteStorage>,
    url: String,
    /// The seeded subdistrict's grids.
    grids: Vec<gridwork_domain::ids::Id>,
    _handle: gridwork_server::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server on loopback holding a subdistrict of `size`, pushed by an operator's phone.
    fn with_subdistrict(size: SeedSize) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-server")
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
        let handle = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            gridwork_server::serve(listener, storage.clone())
                .await
                .unwrap()
        });
        let mut server = Server {
            url: handle.url(),
            runtime,
            storage,
            grids: vec![],
            _handle: handle,
            _dir: dir,
        };
        let code = server.code("系统管理员");
        server.grids = server.runtime.block_on(async {
            let operator = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
            let net = HttpTransport::new(&server.url, None).unwrap();
            operator.enroll(&net, &code, "operator").await.unwrap();
            let seeded = seed_subdistrict(&operator, 7, size, |_, _| {}).unwrap();
            operator.sync_now(&net).await.unwrap();
            seeded.grids.iter().map(|g| g.id).collect()
        });
        server
    }

    /// A one-time code of a new admin (an admin's phone holds the whole installation).
    fn code(&self, name: &str) -> String {
        self.code_of(name, Role::Admin, vec![])
    }

    /// A one-time code of a new user of `role` scoped to `scope`.
    fn code_of(&self, name: &str, role: Role, scope: Vec<gridwork_domain::ids::Id>) -> String {
        self.runtime.block_on(async {
            let user = self
                .storage
                .create_user(name.into(), role, scope)
                .await
                .unwrap();
            self.storage
                .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
                .await
                .unwrap()
        })
    }
}

/// A subdistrict of about 1,100 records; `GRIDWORK_BENCH_SIZE=demo` takes the demo's (~9,000,
/// the size of the measurement) for the figures in docs/benchmarks.md.
fn test_size() -> SeedSize {
    match std::env::var("GRIDWORK_BENCH_SIZE").as_deref() {
        Ok("demo") => SeedSize::DEMO,
        _ => SeedSize {
            grid_layers: 1,
            communities: 1,
            grids: 2,
            buildings: 20,
            households: 8,
            stations: 1,
        },
    }
}

fn phone_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

/// The app's main dispatcher: one thread, one runtime.
fn main_dispatcher() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Ticks every millisecond on the caller's thread while `work` runs; returns the work's output,
/// the longest gap between two ticks and how many ticks ran.
async fn measure_stall<T>(work: impl std::future::Future<Output = T>) -> (T, Duration, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let longest = Arc::new(AtomicU64::new(0));
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (stop, longest, ticks) = (stop.clone(), longest.clone(), ticks.clone());
        tokio::spawn(async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let gap = last.elapsed().as_micros() as u64;
                longest.fetch_max(gap, Ordering::SeqCst);
                ticks.fetch_add(1, Ordering::SeqCst);
                last = Instant::now();
            }
        })
    };
    // Let the ticker start before the work does.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let out = work.await;
    stop.store(true, Ordering::SeqCst);
    ticker.await.unwrap();
    (
        out,
        Duration::from_micros(longest.load(Ordering::SeqCst)),
        ticks.load(Ordering::SeqCst),
    )
}

// -- observers used by the tests ---------------------------------------------------------------

#[derive(Default)]
struct Recorder {
    states: Mutex<Vec<SyncState>>,
    progress: Mutex<Vec<SyncProgress>>,
    threads: Mutex<Vec<String>>,
}

impl Recorder {
    fn note_thread(&self) {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        self.threads.lock().unwrap().push(name);
    }
}

impl SyncObserver for Recorder {
    fn on_state(&self, state: SyncState) -> Result<(), ObserverError> {
        self.note_thread();
        self.states.lock().unwrap().push(state);
        Ok(())
    }

    fn on_progress(&self, progress: SyncProgress) -> Result<(), ObserverError> {
        self.note_thread();
        self.progress.lock().unwrap().push(progress);
        Ok(())
    }
}

/// Fails every call, one way or the other: an error, or a panic (as a foreign exception that
/// uniffi could not map would be).
struct Throwing {
    calls: AtomicU64,
}

impl SyncObserver for Throwing {
    fn on_state(&self, _: SyncState) -> Result<(), ObserverError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(ObserverError::Failed {
            reason: "the screen is gone".into(),
        })
    }

    fn on_progress(&self, _: SyncProgress) -> Result<(), ObserverError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        panic!("an observer that panics");
    }
}

#[derive(Default)]
struct Kinds(Mutex<Vec<Vec<RecordKind>>>);

impl ChangeObserver for Kinds {
    fn on_changes(&self, kinds: Vec<RecordKind>) -> Result<(), ObserverError> {
        self.0.lock().unwrap().push(kinds);
        Ok(())
    }
}

// -- the tests ---------------------------------------------------------------------------------

#[test]
fn sync_now_does_the_store_work_on_the_worker_threads_never_on_the_awaiting_thread() {
    note_threads();
    let server = Server::with_subdistrict(test_size());
    let dir = tempfile::tempdir().unwrap();
    let phone =
        GridworkClient::open(phone_path(&dir, "phone.db"), server.url.clone(), None, None).unwrap();
    let observed = Arc::new(Recorder::default());
    phone.sync().add_sync_observer(observed.clone());
    let main = main_dispatcher();
    let caller = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
        .unwrap();

    // Reads on another thread while the phone bootstraps, as a screen would query.
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let (phone, reading) = (phone.clone(), reading.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while reading.load(Ordering::SeqCst) {
                let started = Instant::now();
                phone.places().child_areas(None).unwrap();
                phone.sync().pending_count().unwrap();
                latencies.push(started.elapsed());
                std::thread::sleep(Duration::from_micros(500));
            }
            latencies
        })
    };
    step_events().lock().unwrap().clear();
    let (report, stall, ticks) = main.block_on(measure_stall(phone.sync().sync_now()));
    reading.store(false, Ordering::SeqCst);
    let report = report.unwrap();
    let mut latencies = reader.join().unwrap();
    assert!(report.snapshot_records > 100, "{report:?}");

    // Every step of the run did its SQLite work on the bindings' worker threads.
    let events = step_events().lock().unwrap().clone();
    let pages = events.iter().filter(|(_, m)| m == "bootstrap page").count();
    assert!(pages >= 1, "the bootstrap logged its pages: {events:?}");
    for (thread, message) in &events {
        assert_eq!(thread, WORKER_THREAD_NAME, "{message} ran on {thread}");
        assert_ne!(thread, &caller);
    }
    // The observers heard it on their own thread, ending idle, before `sync_now` returned.
    let states = observed.states.lock().unwrap().clone();
    assert_eq!(states.first(), Some(&SyncState::Syncing));
    assert_eq!(states.last(), Some(&SyncState::Idle));
    assert!(
        observed
            .threads
            .lock()
            .unwrap()
            .iter()
            .all(|t| t == "gridwork-observers")
    );
    assert!(observed.progress.lock().unwrap().iter().any(|p| p.done > 0));

    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "bootstrap of {} records in {} ms: the awaiting thread's longest stall {:.1} ms ({} ticks); \
         reads during it: {} reads, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.snapshot_records,
        report.duration_ms,
        stall.as_secs_f64() * 1e3,
        ticks,
        latencies.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
}

#[test]
fn a_throwing_observer_is_isolated_and_a_removed_one_is_not_called() {
    // The panicking observer's panics are expected: no backtrace printing for each (on a busy
    // machine that takes longer than a sync call waits for its observers).
    std::panic::set_hook(Box::new(|_| {}));
    let server = Server::with_subdistrict(SeedSize::TINY);
    let dir = tempfile::tempdir().unwrap();
    let phone =
        GridworkClient::open(phone_path(&dir, "phone.db"), server.url.clone(), None, None).unwrap();
    let throwing = Arc::new(Throwing {
        calls: AtomicU64::new(0),
    });
    phone.sync().add_sync_observer(throwing.clone());
    let kept = Arc::new(Recorder::default());
    phone.sync().add_sync_observer(kept.clone());
    let removed = Arc::new(Recorder::default());
    let handle = phone.sync().add_sync_observer(removed.clone());
    handle.remove();
    handle.remove();
    // The same object added twice: two registrations, one removed.
    let twice = Arc::new(Recorder::default());
    phone.sync().add_sync_observer(twice.clone());
    phone.sync().add_sync_observer(twice.clone()).remove();

    let main = main_dispatcher();
    main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
        .unwrap();
    let report = main.block_on(phone.sync().sync_now()).unwrap();
    assert!(report.snapshot_records > 0);
    assert_eq!(
        phone.sync().sync_state(),
        SyncState::Idle,
        "sync not broken"
    );
    assert!(throwing.calls.load(Ordering::SeqCst) >= 2);
    assert!(phone.observer_failures() >= 2, "each failure counted");
    assert_eq!(
        kept.states.lock().unwrap().clone(),
        vec![SyncState::Syncing, SyncState::Idle]
    );
    assert!(removed.states.lock().unwrap().is_empty());
    assert_eq!(
        twice.states.lock().unwrap().clone(),
        vec![SyncState::Syncing, SyncState::Idle],
        "called once per remaining registration"
    );
    // And a second run goes as well.
    main.block_on(phone.sync().sync_now()).unwrap();
    assert_eq!(kept.states.lock().unwrap().len(), 4);
}

#[test]
fn changes_are_announced_by_record_kind() {
    let server = Server::with_subdistrict(SeedSize::TINY);
    let dir = tempfile::tempdir().unwrap();
    let phone =
        GridworkClient::open(phone_path(&dir, "phone.db"), server.url.clone(), None, None).unwrap();
    let kinds = Arc::new(Kinds::default());
    phone.sync().add_change_observer(kinds.clone());
    let main = main_dispatcher();
    main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
        .unwrap();
    main.block_on(phone.sync().sync_now()).unwrap();
    let seen: Vec<RecordKind> = kinds.0.lock().unwrap().concat();
    for kind in [RecordKind::Area, RecordKind::Building, RecordKind::Resident] {
        assert!(seen.contains(&kind), "{kind:?} in {seen:?}");
    }

    kinds.0.lock().unwrap().clear();
    let household = phone.places().households_of_building(
        phone
            .places()
            .buildings_in_area(
                phone.places().child_areas(None).unwrap()[0].id.clone(),
                1,
                None,
            )
            .unwrap()
            .items[0]
            .id
            .clone(),
        false,
        10,
        None,
    );
    let mut household = household.unwrap().items.remove(0);
    household.phone = Some(gridwork_ffi::Sensitive::new("13912345678".into()));
    phone.places().update_household(household).unwrap();
    // Delivered on the observers' thread: wait for it (a sync call would have flushed).
    let started = Instant::now();
    while kinds.0.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        kinds.0.lock().unwrap().clone(),
        vec![vec![RecordKind::Household]]
    );
}

#[test]
fn one_client_per_store_and_shutdown_stops_a_waiting_call() {
    let server = Server::with_subdistrict(SeedSize::TINY);
    let dir = tempfile::tempdir().unwrap();
    let path = phone_path(&dir, "phone.db");
    let phone = GridworkClient::open(path.clone(), server.url.clone(), None, None).unwrap();
    let second = GridworkClient::open(path.clone(), server.url.clone(), None, None);
    assert!(
        matches!(&second, Err(GridworkError::StoreInUse { .. })),
        "{second:?}"
    );
    let main = main_dispatcher();
    main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
        .unwrap();
    main.block_on(phone.sync().sync_now()).unwrap();

    // A live wait of 30 s, stopped by shutdown from another thread.
    let stopper = {
        let phone = phone.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            phone.shutdown();
        })
    };
    // A wait that ran out would return a report: `Closed` says it was stopped.
    let waited = main.block_on(phone.sync().wait_for_changes(30));
    stopper.join().unwrap();
    assert!(
        matches!(&waited, Err(GridworkError::Closed { .. })),
        "{waited:?}"
    );
    assert!(matches!(
        phone.sync().pending_count(),
        Err(GridworkError::Closed { .. })
    ));
    // The store is free for a new client.
    let again = GridworkClient::open(path, server.url.clone(), None, None).unwrap();
    assert_eq!(again.sync().pending_count().unwrap(), 0);
}

#[test]
fn going_offline_stops_a_waiting_call_and_refuses_sync_until_online() {
    let server = Server::with_subdistrict(SeedSize::TINY);
    let dir = tempfile::tempdir().unwrap();
    let phone =
        GridworkClient::open(phone_path(&dir, "phone.db"), server.url.clone(), None, None).unwrap();
    let main = main_dispatcher();
    main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
        .unwrap();
    main.block_on(phone.sync().sync_now()).unwrap();
    let switch = {
        let phone = phone.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            phone.sync().set_online(false);
        })
    };
    let waited = main.block_on(phone.sync().wait_for_changes(30));
    switch.join().unwrap();
    assert!(
        matches!(&waited, Err(GridworkError::Offline { .. })),
        "{waited:?}"
    );
    let refused = main.block_on(phone.sync().sync_now());
    assert!(
        matches!(&refused, Err(GridworkError::Offline { .. })),
        "{refused:?}"
    );
    assert_eq!(phone.sync().sync_state(), SyncState::Offline);
    phone.sync().set_online(true);
    assert_eq!(phone.sync().sync_state(), SyncState::Idle);
    main.block_on(phone.sync().sync_now()).unwrap();
}

#[test]
fn a_cancelled_sync_leaves_the_state_true() {
    // A server that accepts connections and never answers: the run hangs in its first request.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hang.local_addr().unwrap());
    let accepted = std::thread::spawn(move || {
        let held: Vec<_> = hang.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(held);
    });
    let server = Server::with_subdistrict(SeedSize::TINY);
    let dir = tempfile::tempdir().unwrap();
    let path = phone_path(&dir, "phone.db");
    let main = main_dispatcher();
    {
        let phone = GridworkClient::open(path.clone(), server.url.clone(), None, None).unwrap();
        main.block_on(phone.enroll(server.code("王芳"), "王芳的手机".into()))
            .unwrap();
        phone.shutdown();
    }
    let phone = GridworkClient::open(path, url, None, None).unwrap();
    let observed = Arc::new(Recorder::default());
    phone.sync().add_sync_observer(observed.clone());
    main.block_on(async {
        // The caller gives up (a cancelled coroutine): its future is dropped mid-run.
        let sync = phone.sync();
        let run = sync.sync_now();
        let gave_up = tokio::time::timeout(Duration::from_millis(500), run).await;
        assert!(gave_up.is_err(), "the run was still waiting");
    });
    let started = Instant::now();
    while phone.sync().sync_state() == SyncState::Syncing
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(phone.sync().sync_state(), SyncState::Idle);
    accepted.join().unwrap();
}

/// A gridworker's bootstrap is determinate: the server's first snapshot page announces the
/// grid's total, and the progress the observers receive carries it, never below what was
/// taken, ending complete.
#[test]
fn bootstrap_progress_carries_the_total_the_snapshot_announces() {
    let server = Server::with_subdistrict(test_size());
    let dir = tempfile::tempdir().unwrap();
    let phone =
        GridworkClient::open(phone_path(&dir, "grid.db"), server.url.clone(), None, None).unwrap();
    let observed = Arc::new(Recorder::default());
    phone.sync().add_sync_observer(observed.clone());
    let main = main_dispatcher();
    let code = server.code_of("李网格员", Role::Gridworker, vec![server.grids[0]]);
    main.block_on(phone.enroll(code, "李网格员的手机".into()))
        .unwrap();
    let report = main.block_on(phone.sync().sync_now()).unwrap();
    assert!(report.snapshot_records > 10, "{report:?}");

    let progress = observed.progress.lock().unwrap().clone();
    let bootstrap: Vec<&SyncProgress> = progress
        .iter()
        .filter(|p| p.step == gridwork_ffi::sync::SyncStep::Bootstrap)
        .collect();
    assert!(!bootstrap.is_empty(), "{progress:?}");
    for p in &bootstrap {
        let total = p.total.expect("every bootstrap step carries the total");
        assert!(p.done >= 0 && p.done <= total, "{p:?}");
    }
    let last = bootstrap.last().unwrap();
    assert_eq!(last.done, report.snapshot_records, "{last:?}");
    assert_eq!(
        last.total,
        Some(last.done),
        "the last page completes the bar"
    );
    // The announced total is the grid's records, each once (the first page's figure).
    assert_eq!(bootstrap[0].total, Some(report.snapshot_records));
}
