//! The writer thread: the one connection that writes, owned by a thread of its own, with
//! concurrent pushes committed together (group commit).
//!
//! SQLite has one writer at a time. Before this, each push took a blocking-pool thread that
//! waited on a mutex around the writer connection: under a thousand phones, hundreds of threads
//! queued on a lock that is not fair (a push could wait behind pushes that came seconds later),
//! and every push paid a commit of its own, writing the same hot pages (the end of the log, of
//! its index, of the buckets' index) to the WAL again and again.
//!
//! Now every write is a job sent to this thread, answered through a oneshot channel. Jobs run in
//! the order they arrived. When the thread takes a push and more pushes are already waiting, it
//! runs them together: one immediate transaction, each push inside a savepoint of its own (a push
//! that fails is rolled back alone and answered with its error; the others are kept), one commit,
//! then every answer. A push never waits for a later one to arrive: the group is what was queued
//! when the thread got to it, so a lone push is committed at once, and the busier the server, the
//! more pushes share a commit. What a push decides is what it would have decided alone after the
//! pushes before it in the group, since it reads their writes in the same transaction. ADR 0031.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use gridwork_domain::op::Op;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::oplog;
use super::records::Loaded;
use crate::rules::PushContext;
use crate::storage::groups::{GroupStats, MAX_GROUP_OPS, MAX_GROUP_PUSHES};
use crate::storage::{Pushed, StorageError};

type Run = Box<dyn FnOnce(&mut Connection) + Send>;

/// A push waiting for the writer.
struct PushJob {
    ctx: PushContext,
    ops: Vec<Op>,
    answer: oneshot::Sender<Result<Pushed, StorageError>>,
}

enum Job {
    Push(PushJob),
    /// Any other write (enrollment, accounts, intake): run alone, in arrival order.
    Run(Run),
    /// A write that leaves the records alone (phones' sync statuses, console sessions, the
    /// audit): run alone, in arrival order, and the records the writer keeps stay kept.
    RunBeside(Run),
}

/// The handle the storage keeps: sends jobs, and stops the thread (waiting for it) when dropped.
#[derive(Debug)]
pub struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Jobs sent and not yet taken by the thread, and whether it is running one (for the
    /// pool's status).
    queued: Arc<AtomicUsize>,
    busy: Arc<AtomicBool>,
    /// Groups committed and the pushes they held, for the tests and metrics.
    stats: Arc<GroupStats>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Push(p) => write!(f, "Push({} ops)", p.ops.len()),
            Job::Run(_) => f.write_str("Run"),
            Job::RunBeside(_) => f.write_str("RunBeside"),
        }
    }
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub fn start(conn: Connection) -> std::io::Result<Writer> {
        let (jobs, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let busy = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(GroupStats::default());
        let thread = {
            let counts = Counts {
                queued: queued.clone(),
                busy: busy.clone(),
                stats: stats.clone(),
            };
            std::thread::Builder::new()
                .name("gridwork-sqlite-writer".into())
                .spawn(move || run(conn, rx, &counts))?
        };
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            queued,
            busy,
            stats,
        })
    }

    /// Decides and stores a push, committed with whatever other pushes wait beside it.
    /// The push is queued when this is called (not when the answer is first awaited), so
    /// pushes are stored in the order of the calls.
    pub fn push(
        &self,
        ctx: PushContext,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Pushed, StorageError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let sent = self.send(Job::Push(PushJob { ctx, ops, answer }));
        async move {
            sent?;
            answered.await.map_err(|_| stopped())?
        }
    }

    /// Runs `f` on the writer connection, alone, after the jobs sent before it (queued when
    /// this is called).
    pub fn run<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.send_run(f, Job::Run)
    }

    /// Runs `f` on the writer connection like [`Writer::run`], for a write that changes no
    /// record: the records the writer keeps for the pushes ([`Loaded`]) stay kept, where after
    /// any other job they are read again. The phones' sync statuses are written every two
    /// seconds under load; dropping the kept records each time made the pushes after it read
    /// their records again (a fifth of the writer thread in a profile of 1,000 phones). While
    /// `f` runs, SQLite refuses to prepare a statement that writes the `records` table (an
    /// authorizer), so a job sent here by mistake fails instead of leaving stale records kept.
    pub fn run_beside_records<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.send_run(f, Job::RunBeside)
    }

    /// Queues `f` as a job of the kind `job` makes, answered through a oneshot channel.
    fn send_run<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        job: fn(Run) -> Job,
    ) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let sent = self.send(job(Box::new(move |conn| {
            let _ = answer.send(f(conn));
        })));
        async move {
            sent.map_err(E::from)?;
            answered.await.map_err(|_| E::from(stopped()))?
        }
    }

    /// Jobs sent and not taken by the thread yet.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether the thread is running a job or a group now.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// Commits so far and the pushes they carried.
    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    fn send(&self, job: Job) -> Result<(), StorageError> {
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        self.queued.fetch_add(1, Ordering::Relaxed);
        jobs.send(job).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            stopped()
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once it has answered what was sent; the
        // connection closes with it, before the storage is gone (a test may open the file next).
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The same error for another caller of the group (a storage error is not `Clone`): SQLite's
/// code is kept, so a busy database still answers 503 to every phone of the group.
fn again(e: &StorageError) -> StorageError {
    match e {
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(code, msg)) => {
            StorageError::Sqlite(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => StorageError::Task(other.to_string()),
    }
}

fn stopped() -> StorageError {
    StorageError::Task("the SQLite writer thread has stopped".into())
}

/// What the thread keeps count of, shared with the handle.
struct Counts {
    queued: Arc<AtomicUsize>,
    busy: Arc<AtomicBool>,
    stats: Arc<GroupStats>,
}

impl Counts {
    fn take(&self, job: Job) -> Job {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        job
    }
}

/// The thread's loop: takes jobs in order; a push takes the pushes queued behind it along.
/// What the pushes read of records is kept from group to group ([`Loaded`]).
fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, counts: &Counts) {
    let mut next: Option<Job> = None;
    let loaded = Loaded::default();
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => counts.take(job),
                Err(_) => return,
            },
        };
        counts.busy.store(true, Ordering::Relaxed);
        match job {
            Job::Run(f) => {
                // A panic in a job drops its answer (the caller sees the task error); an open
                // transaction is rolled back as it unwinds, so the connection stays usable.
                let _ = catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
                // It wrote by its own SQL, which the kept reads do not follow.
                loaded.clear();
            }
            Job::RunBeside(f) => {
                if conn.authorizer(Some(records_untouched)).is_err() {
                    // Without the guard the job may not run beside the kept records.
                    loaded.clear();
                }
                let _ = catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
                let _ = conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
            }
            Job::Push(first) => {
                let mut group = vec![first];
                let mut ops = group[0].ops.len();
                while group.len() < MAX_GROUP_PUSHES && ops < MAX_GROUP_OPS {
                    match rx.try_recv().map(|job| counts.take(job)) {
                        Ok(Job::Push(p)) if ops + p.ops.len() <= MAX_GROUP_OPS => {
                            ops += p.ops.len();
                            group.push(p);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                counts.stats.record(group.len());
                commit_group(&mut conn, group, &loaded, &counts.stats);
            }
        }
        counts.busy.store(false, Ordering::Relaxed);
    }
}

/// The authorizer of a job run beside the kept records: anything but a write to `records`.
fn records_untouched(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
            if table_name.eq_ignore_ascii_case("records") =>
        {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

/// Runs a group of pushes in one transaction, each in a savepoint, and answers each after the
/// commit (or each with the error, if the commit failed).
fn commit_group(conn: &mut Connection, group: Vec<PushJob>, loaded: &Loaded, stats: &GroupStats) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StorageError::from(e);
            for job in group {
                let _ = job.answer.send(Err(again(&e)));
            }
            return;
        }
    };
    // Inside the transaction: no other connection can commit until this one ends.
    if let Err(e) = loaded.check(&tx) {
        loaded.clear();
        for job in group {
            let _ = job.answer.send(Err(again(&e)));
        }
        return;
    }
    let mut decided = Vec::with_capacity(group.len());
    for job in group {
        let outcome = in_savepoint(&tx, || {
            catch_unwind(AssertUnwindSafe(|| {
                oplog::push_in(&tx, &job.ctx, &job.ops, loaded)
            }))
            .unwrap_or_else(|_| Err(StorageError::Task("a push panicked on the writer".into())))
        });
        if outcome.is_err() {
            // Its reads may have seen its own writes, now rolled back.
            loaded.clear();
        }
        decided.push((job.answer, outcome));
    }
    // Counted before any answer, so a caller that has its answer sees its reads counted.
    stats
        .records_read
        .fetch_add(loaded.take_reads(), Ordering::Relaxed);
    match tx.commit() {
        Ok(()) => {
            for (answer, outcome) in decided {
                let _ = answer.send(outcome);
            }
        }
        Err(e) => {
            // Rolled back: what the group wrote never was.
            loaded.clear();
            let e = StorageError::from(e);
            for (answer, outcome) in decided {
                let _ = answer.send(outcome.and(Err(again(&e))));
            }
        }
    }
}

/// Runs `f` in a savepoint: released when it succeeds, rolled back (and released) when it
/// fails. The statements are prepared once per connection (rusqlite's `Savepoint` parses its
/// SQL anew each time, a cost the closed loop's profile showed).
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let step = |sql: &str| -> Result<(), StorageError> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    step("SAVEPOINT push")?;
    match f() {
        Ok(value) => {
            step("RELEASE push")?;
            Ok(value)
        }
        Err(e) => {
            step("ROLLBACK TO push")?;
            step("RELEASE push")?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use gridwork_domain::hlc::{Hlc, HlcClock};
    use gridwork_domain::sync::PushOutcome;
    use uuid::Uuid;

    use super::*;
    use crate::storage::sqlite::open;
    use crate::storage::test_ops::{admin, create, district, set};

    /// Holds the writer thread with a job that waits for the answer's signal; returns once the
    /// thread runs it, so what is queued next waits behind it.
    async fn hold(
        writer: &Writer,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StorageError>>,
    ) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let hold = tokio::spawn(writer.run(move |_conn| {
            held.recv().unwrap();
            Ok::<_, StorageError>(())
        }));
        // Taken by the thread (nothing queued) and running (an earlier job's `busy` ends before
        // the thread takes the next).
        while writer.queued() > 0 || !writer.busy() {
            tokio::task::yield_now().await;
        }
        (release, hold)
    }

    /// Pushes queued while the writer is busy are committed together, in the order they were
    /// sent, each answered with its own positions; a lone push is committed alone at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_queued_behind_a_write_share_one_commit_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::start(open::open_writer(&dir.path().join("s.db")).unwrap()).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);

        // A lone push: one group of one.
        let lone = writer
            .push(admin(device), vec![district(&mut clock, device, 0)])
            .await
            .unwrap();
        assert!(matches!(
            lone.results[0].outcome,
            PushOutcome::Accepted { seq: 1 }
        ));
        assert_eq!(writer.stats().groups.load(Ordering::Relaxed), 1);

        // Hold the writer with a job that waits for a signal, then queue 20 pushes behind it.
        let (release, hold) = hold(&writer).await;
        let mut pushes = Vec::new();
        for n in 1..=20 {
            let op = district(&mut clock, device, n);
            // Queued by the call, in this order.
            pushes.push(tokio::spawn(writer.push(admin(device), vec![op])));
        }
        assert_eq!(writer.queued(), 20);
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        let mut seqs = Vec::new();
        for p in pushes {
            let pushed = p.await.unwrap().unwrap();
            let PushOutcome::Accepted { seq } = pushed.results[0].outcome else {
                panic!("refused: {:?}", pushed.results[0].outcome)
            };
            assert_eq!(
                pushed.last, seq,
                "each push's end of log is its own last operation"
            );
            seqs.push(seq);
        }
        assert_eq!(
            seqs,
            (2..=21).collect::<Vec<u64>>(),
            "stored in the order sent"
        );
        let stats = writer.stats();
        assert_eq!(
            stats.groups.load(Ordering::Relaxed),
            2,
            "the 20 queued pushes: one commit"
        );
        assert_eq!(stats.pushes.load(Ordering::Relaxed), 21);
        assert_eq!(stats.largest.load(Ordering::Relaxed), 20);
        assert_eq!(writer.queued(), 0);
    }

    /// A push of a group that fails is rolled back alone: the pushes before and after it in the
    /// same commit are stored, it is answered with its error and leaves nothing behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_push_is_rolled_back_alone_and_its_group_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::start(open::open_writer(&dir.path().join("s.db")).unwrap()).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let ops: Vec<Op> = (1..=3).map(|n| district(&mut clock, device, n)).collect();
        // The database itself refuses the second push's operation (as a full disk or a damaged
        // page would fail a write): a trigger on the log.
        let failing = ops[1].entity_id.to_string();
        writer
            .run(move |conn| {
                conn.execute_batch(&format!(
                    "CREATE TRIGGER refuse BEFORE INSERT ON ops WHEN NEW.entity_id = '{failing}'
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
                ))
                .map_err(StorageError::from)
            })
            .await
            .unwrap();

        let (release, hold) = hold(&writer).await;
        let mut pushes = Vec::new();
        for op in ops.iter().cloned() {
            pushes.push(tokio::spawn(writer.push(admin(device), vec![op])));
        }
        assert_eq!(writer.queued(), 3);
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        let mut answers = Vec::new();
        for p in pushes {
            answers.push(p.await.unwrap());
        }
        let seq = |a: &Result<Pushed, StorageError>| match a.as_ref().unwrap().results[0].outcome {
            PushOutcome::Accepted { seq } => seq,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(seq(&answers[0]), 1);
        let err = answers[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("refused by the test"), "{err}");
        assert_eq!(seq(&answers[2]), 2, "the failed push's number is not used");
        assert_eq!(
            writer.stats().largest.load(Ordering::Relaxed),
            3,
            "one group of three"
        );

        // What a reader sees after the commit: the first and third, not the second.
        let stored: Vec<String> = writer
            .run(|conn| {
                let mut stmt = conn.prepare("SELECT entity_id FROM ops ORDER BY seq")?;
                let ids = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok::<_, StorageError>(ids)
            })
            .await
            .unwrap();
        assert_eq!(
            stored,
            vec![ops[0].entity_id.to_string(), ops[2].entity_id.to_string()]
        );
    }

    /// Ids of a district down to two grids of one community, and a building in the first grid.
    struct Town {
        district: Uuid,
        subdistrict: Uuid,
        community: Uuid,
        old_grid: Uuid,
        new_grid: Uuid,
        building: Uuid,
        /// The stamp of the building's creation (the base of a later edit).
        built: gridwork_domain::hlc::Stamp,
    }

    /// A [`Town`] and the admin's operations that create it, in order.
    fn two_grid_town(clock: &mut HlcClock, device: Uuid) -> (Town, Vec<Op>) {
        use gridwork_domain::op::EntityKind;
        use serde_json::json;

        let mut ops = Vec::new();
        let mut area = |clock: &mut HlcClock, level: &str, code: &str, parent: Option<Uuid>| {
            let id = Uuid::now_v7();
            ops.push(create(
                clock,
                device,
                EntityKind::Area,
                id,
                json!({ "level": level, "code": code, "name": code, "parent_id": parent,
                        "response_policies": [] }),
            ));
            id
        };
        let district = area(clock, "district", "330106", None);
        let subdistrict = area(clock, "subdistrict", "330106001", Some(district));
        let community = area(clock, "community", "330106001001", Some(subdistrict));
        let old_grid = area(clock, "grid", "330106001001001", Some(community));
        let new_grid = area(clock, "grid", "330106001001002", Some(community));
        let building = Uuid::now_v7();
        let b = create(
            clock,
            device,
            EntityKind::Building,
            building,
            json!({ "address_code": "3301060010010010011", "address": "3 幢",
                    "kind": "residential", "grid_id": old_grid, "micro_grid_id": null,
                    "head_user_id": null, "station_id": null, "position": null }),
        );
        let built = b.stamp;
        ops.push(b);
        let town = Town {
            district,
            subdistrict,
            community,
            old_grid,
            new_grid,
            building,
            built,
        };
        (town, ops)
    }

    /// Records read while a group is decided are kept for its later pushes, and forgotten when
    /// written: a building moved to another grid by one push of a group places the household
    /// that the next push of the same group adds to it in the new grid, not the old one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_written_by_a_push_is_read_anew_by_the_next_push_of_its_group() {
        use gridwork_domain::op::EntityKind;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::start(open::open_writer(&dir.path().join("s.db")).unwrap()).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let (t, ops) = two_grid_town(&mut clock, device);
        let Town {
            district,
            subdistrict,
            community,
            new_grid,
            building,
            built,
            ..
        } = t;
        // The base, with a place read into the group's records by a push of the group.
        let base = writer.push(admin(device), ops).await.unwrap();
        assert!(
            base.results
                .iter()
                .all(|r| matches!(r.outcome, PushOutcome::Accepted { .. })),
            "{base:?}"
        );

        let (release, hold) = hold(&writer).await;
        let household = Uuid::now_v7();
        let read = create(
            &mut clock,
            device,
            EntityKind::Household,
            Uuid::now_v7(),
            json!({ "building_id": building, "unit": "1-101", "kind": "owner_occupied",
                    "phone": null, "archived": false }),
        );
        let moved = set(
            &mut clock,
            device,
            EntityKind::Building,
            building,
            "grid_id",
            json!(new_grid),
            built,
        );
        let added = create(
            &mut clock,
            device,
            EntityKind::Household,
            household,
            json!({ "building_id": building, "unit": "2-301", "kind": "owner_occupied",
                    "phone": null, "archived": false }),
        );
        let first = tokio::spawn(writer.push(admin(device), vec![read]));
        let second = tokio::spawn(writer.push(admin(device), vec![moved]));
        let third = tokio::spawn(writer.push(admin(device), vec![added]));
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        for push in [first, second, third] {
            let pushed = push.await.unwrap().unwrap();
            assert!(
                matches!(pushed.results[0].outcome, PushOutcome::Accepted { .. }),
                "{pushed:?}"
            );
        }
        assert_eq!(
            writer.stats().largest.load(Ordering::Relaxed),
            3,
            "one group of three"
        );
        let place: String = writer
            .run(move |conn| {
                conn.query_row(
                    "SELECT place FROM records WHERE id = ?1",
                    [household.to_string()],
                    |r| r.get(0),
                )
                .map_err(StorageError::from)
            })
            .await
            .unwrap();
        let place: gridwork_domain::scope::Place = serde_json::from_str(&place).unwrap();
        assert_eq!(
            place.areas,
            vec![district, subdistrict, community, new_grid],
            "placed in the building's new grid"
        );
    }

    /// A household added to `building` by the writer, and the areas it was placed under (read
    /// through a reader connection: a job on the writer would drop what it keeps).
    async fn add_household(
        writer: &Writer,
        path: &std::path::Path,
        clock: &mut HlcClock,
        device: Uuid,
        building: Uuid,
        unit: &str,
    ) -> Vec<Uuid> {
        use gridwork_domain::op::EntityKind;
        let household = Uuid::now_v7();
        let op = create(
            clock,
            device,
            EntityKind::Household,
            household,
            serde_json::json!({ "building_id": building, "unit": unit,
                                "kind": "owner_occupied", "phone": null, "archived": false }),
        );
        let pushed = writer.push(admin(device), vec![op]).await.unwrap();
        assert!(
            matches!(pushed.results[0].outcome, PushOutcome::Accepted { .. }),
            "{pushed:?}"
        );
        let place: String = open::open_reader(path)
            .unwrap()
            .query_row(
                "SELECT place FROM records WHERE id = ?1",
                [household.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        serde_json::from_str::<gridwork_domain::scope::Place>(&place)
            .unwrap()
            .areas
    }

    /// Stores `op` through a connection of its own (as an operator's command on the same file,
    /// or a job of the writer that writes by its own SQL, would), not through the kept reads.
    fn push_elsewhere(conn: &mut Connection, device: Uuid, op: Op) {
        let tx = conn.transaction().unwrap();
        let pushed = oplog::push_in(&tx, &admin(device), &[op], &Loaded::default()).unwrap();
        assert!(
            matches!(pushed.results[0].outcome, PushOutcome::Accepted { .. }),
            "{pushed:?}"
        );
        tx.commit().unwrap();
    }

    /// What the writer keeps of records lives from group to group, and is dropped when the
    /// database changes where the writer's pushes do not see it: a building moved to another
    /// grid by another connection, then moved back by a job of the writer's own, places the
    /// next household added to it in the grid it is in now, each time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_records_are_dropped_when_the_database_changes_behind_the_writer() {
        use gridwork_domain::op::EntityKind;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = Writer::start(open::open_writer(&path).unwrap()).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let (t, ops) = two_grid_town(&mut clock, device);
        let Town {
            district,
            subdistrict,
            community,
            old_grid,
            new_grid,
            building,
            built,
        } = t;
        writer.push(admin(device), ops).await.unwrap();
        let old = vec![district, subdistrict, community, old_grid];
        let new = vec![district, subdistrict, community, new_grid];

        // The building and its areas are now kept by the writer.
        assert_eq!(
            add_household(&writer, &path, &mut clock, device, building, "1-101").await,
            old
        );

        // Another connection moves the building: the writer's next group sees it.
        let moved = set(
            &mut clock,
            device,
            EntityKind::Building,
            building,
            "grid_id",
            json!(new_grid),
            built,
        );
        let moved_stamp = moved.stamp;
        let mut elsewhere = open::open_writer(&path).unwrap();
        push_elsewhere(&mut elsewhere, device, moved);
        drop(elsewhere);
        assert_eq!(
            add_household(&writer, &path, &mut clock, device, building, "2-301").await,
            new,
            "placed by the building another connection moved"
        );

        // A job on the writer connection moves it back by its own SQL: the same.
        let back = set(
            &mut clock,
            device,
            EntityKind::Building,
            building,
            "grid_id",
            json!(old_grid),
            moved_stamp,
        );
        writer
            .run(move |conn| {
                push_elsewhere(conn, device, back);
                Ok::<_, StorageError>(())
            })
            .await
            .unwrap();
        assert_eq!(
            add_household(&writer, &path, &mut clock, device, building, "3-501").await,
            old,
            "placed by the building a job of the writer moved back"
        );
    }

    /// A photo's upload counts its bytes against the device's daily quota at every PATCH: those
    /// writes leave the records the writer keeps for the pushes kept (ADR 0053), so a push
    /// during an upload (an alarm) reads no more than with no upload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_uploads_quota_writes_keep_the_writers_records() {
        use crate::storage::blob_refs::BlobStorage;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let storage = crate::storage::SqliteStorage::open(&path).unwrap();
        let writer = &storage.inner.writer;
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let (town, ops) = two_grid_town(&mut clock, device);
        writer.push(admin(device), ops).await.unwrap();
        let read = || writer.stats().records_read.load(Ordering::Relaxed);
        add_household(writer, &path, &mut clock, device, town.building, "1-101").await;
        let before = read();
        add_household(writer, &path, &mut clock, device, town.building, "1-102").await;
        let alone = read() - before;

        // A PATCH's reservation, what it did not use given back, and a direct count.
        assert!(
            storage
                .reserve_uploaded_bytes(device, 20_000, 512 * 1024, 1 << 30)
                .await
                .unwrap()
        );
        storage
            .release_uploaded_bytes(device, 20_000, 1024)
            .await
            .unwrap();
        storage
            .add_uploaded_bytes(device, 20_000, 2048)
            .await
            .unwrap();
        assert_eq!(
            storage.uploaded_bytes(device, 20_000).await.unwrap(),
            512 * 1024 - 1024 + 2048
        );
        let before = read();
        add_household(writer, &path, &mut clock, device, town.building, "1-103").await;
        assert_eq!(
            read() - before,
            alone,
            "the quota's writes dropped the kept records"
        );
    }

    /// A write beside the records (a phone's sync status) leaves the records the writer keeps
    /// kept: the next push reads from the database what it would have read with nothing in
    /// between, where after any other job it reads its building and areas again. And such a
    /// write may not change a record: SQLite refuses the statement, the record is unchanged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_beside_the_records_keeps_them_and_may_not_change_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = Writer::start(open::open_writer(&path).unwrap()).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let (town, ops) = two_grid_town(&mut clock, device);
        writer.push(admin(device), ops).await.unwrap();
        let read = || writer.stats().records_read.load(Ordering::Relaxed);
        add_household(&writer, &path, &mut clock, device, town.building, "1-101").await;

        // Nothing in between: what a household's creation reads with its building kept.
        let before = read();
        add_household(&writer, &path, &mut clock, device, town.building, "1-102").await;
        let alone = read() - before;

        // A write to a table of its own, as a sync status is.
        let status = |conn: &mut Connection| {
            conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS statuses (n INTEGER);
                 INSERT INTO statuses VALUES (1);",
            )?;
            Ok::<_, StorageError>(())
        };
        writer.run_beside_records(status).await.unwrap();
        let before = read();
        add_household(&writer, &path, &mut clock, device, town.building, "1-103").await;
        assert_eq!(
            read() - before,
            alone,
            "a write beside them dropped the kept records"
        );

        writer.run(status).await.unwrap();
        let before = read();
        add_household(&writer, &path, &mut clock, device, town.building, "1-104").await;
        assert!(
            read() - before >= alone + 4,
            "after another job the building and its areas are read again ({} against {alone})",
            read() - before
        );

        // A write beside the records that changes one is refused.
        let building = town.building.to_string();
        let refused = writer
            .run_beside_records(move |conn| {
                conn.execute(
                    "UPDATE records SET scope_key = 'elsewhere' WHERE id = ?1",
                    [&building],
                )?;
                Ok::<_, StorageError>(())
            })
            .await;
        let Err(StorageError::Sqlite(e)) = refused else {
            panic!("a record changed beside the kept records: {refused:?}")
        };
        assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::AuthorizationForStatementDenied),
            "{e}"
        );
        let key: String = open::open_reader(&path)
            .unwrap()
            .query_row(
                "SELECT scope_key FROM records WHERE id = ?1",
                [town.building.to_string()],
                |r| r.get(0),
            )
            .unwrap();
        assert_ne!(key, "elsewhere");
        // The guard is gone once the job is over: the writer's own jobs still write records.
        let building = town.building.to_string();
        writer
            .run(move |conn| {
                conn.execute(
                    "UPDATE records SET scope_key = scope_key WHERE id = ?1",
                    [&building],
                )?;
                Ok::<_, StorageError>(())
            })
            .await
            .unwrap();
    }

    /// A change that leaves its record where it was (a household's phone) writes the record's
    /// state alone: its place, scope key and parent, and the index entries over them, are not
    /// rewritten. A change that moves it (a building to another grid) writes them all, and the
    /// record's stored row is right either way.
    #[test]
    fn a_change_that_leaves_a_record_where_it_was_writes_its_state_alone() {
        use gridwork_domain::op::EntityKind;
        use serde_json::json;

        let dir = tempfile::tempdir().unwrap();
        let mut conn = open::open_writer(&dir.path().join("s.db")).unwrap();
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let loaded = Loaded::default();
        let push = |conn: &mut Connection, ops: Vec<Op>| {
            let tx = conn.transaction().unwrap();
            let pushed = oplog::push_in(&tx, &admin(device), &ops, &loaded).unwrap();
            for r in &pushed.results {
                assert!(matches!(r.outcome, PushOutcome::Accepted { .. }), "{r:?}");
            }
            tx.commit().unwrap();
        };
        let (town, ops) = two_grid_town(&mut clock, device);
        push(&mut conn, ops);
        let household = Uuid::now_v7();
        let created = create(
            &mut clock,
            device,
            EntityKind::Household,
            household,
            json!({ "building_id": town.building, "unit": "1-101",
                    "kind": "owner_occupied", "phone": null, "archived": false }),
        );
        let base = created.stamp;
        push(&mut conn, vec![created]);
        // Which records had their links written, by the columns an UPDATE names.
        conn.execute_batch(
            "CREATE TEMP TABLE links_written (id TEXT);
             CREATE TEMP TRIGGER links AFTER UPDATE OF parent, place, scope_key ON main.records
             BEGIN INSERT INTO links_written VALUES (new.id); END;",
        )
        .unwrap();
        let written = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn.prepare("SELECT id FROM links_written").unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let row = |conn: &Connection, id: Uuid| -> (String, Option<String>, String) {
            conn.query_row(
                "SELECT state, parent, place FROM records WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        };
        let (_, parent, place) = row(&conn, household);

        let phone = set(
            &mut clock,
            device,
            EntityKind::Household,
            household,
            "phone",
            json!("13612345678"),
            base,
        );
        push(&mut conn, vec![phone]);
        assert_eq!(
            written(&conn),
            Vec::<String>::new(),
            "links written for a phone"
        );
        let (state, parent_now, place_now) = row(&conn, household);
        assert!(state.contains("13612345678"), "{state}");
        assert_eq!((parent_now, place_now), (parent, place.clone()));

        let moved = set(
            &mut clock,
            device,
            EntityKind::Building,
            town.building,
            "grid_id",
            json!(town.new_grid),
            town.built,
        );
        push(&mut conn, vec![moved]);
        let written = written(&conn);
        assert!(written.contains(&town.building.to_string()), "{written:?}");
        assert!(written.contains(&household.to_string()), "{written:?}");
        let (_, _, place_now) = row(&conn, household);
        assert_ne!(place_now, place);
        assert!(
            place_now.contains(&town.new_grid.to_string()),
            "{place_now}"
        );
    }
}
