//! Group commit on PostgreSQL: the pushes that wait in one server process are decided and
//! committed together, in one transaction, by a few committer tasks.
//!
//! Each push used to be a transaction of its own: about ten round trips (begin, locks, the
//! read-ahead, the transaction's id, the writes, the notification, commit), each a wake-up and a
//! statement of a database backend. Under a thousand phones the database's CPU went to those
//! statements, not to the rows: PostgreSQL served 0.5–0.6 × what SQLite's writer thread (which
//! groups its pushes, ADR 0031) served on the same machine. Now a push is a job on a queue; a
//! committer takes the first job and every job queued behind it (up to [`MAX_GROUP_PUSHES`]
//! pushes and [`MAX_GROUP_OPS`] operations) and runs them as one push of many parts
//! ([`oplog::push`]): one set of locks, one read-ahead, one array insert per table, one
//! notification, one commit. Each push is decided as it would be alone after the pushes before
//! it in the group (the planner reads the group's earlier writes), and answered alone.
//!
//! A push is never held back waiting for company: the group is what was queued when a committer
//! got to it, so on a quiet server a push commits at once, alone, and the busier the server, the
//! more pushes share a commit. [`COMMITTERS`] committers run at once in a process, so one
//! group's round trips overlap the next's; their transactions lock records as any two pushes'
//! do (`locks.rs`), and the log's positions stay safe for readers across them as across
//! processes (ADR 0019).
//!
//! A group that fails with an error is not answered with it as a whole: its pushes are run
//! again, each alone, so a push that cannot be stored fails alone, with its own error. ADR 0038.

use std::sync::Arc;

use deadpool_postgres::Pool;
use gridwork_domain::op::Op;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::open::{self, Target};
use super::oplog;
use crate::rules::PushContext;
use crate::storage::groups::{GroupStats, MAX_GROUP_OPS, MAX_GROUP_PUSHES};
use crate::storage::{Pushed, StorageError};

/// Committer tasks in one process: groups in flight at once.
pub const COMMITTERS: usize = 2;

/// A push waiting for a committer.
struct Job {
    ctx: PushContext,
    ops: Vec<Op>,
    answer: oneshot::Sender<Result<Pushed, StorageError>>,
}

/// The queue the committers share: the receiver, and a job taken from it that did not fit the
/// last group (it starts the next).
struct Queue {
    jobs: mpsc::UnboundedReceiver<Job>,
    held: Option<Job>,
}

/// Where a process's pushes are queued; the committers stop when it is dropped, after the jobs
/// already queued.
#[derive(Debug)]
pub struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
    stats: Arc<GroupStats>,
}

/// What a committer needs to store a group.
#[derive(Clone)]
struct Sink {
    pool: Pool,
    target: Target,
    channel: String,
    origin: u64,
}

impl Committer {
    /// Starts [`COMMITTERS`] committer tasks on the current runtime.
    pub fn start(pool: Pool, target: Target, channel: String, origin: u64) -> Committer {
        Committer::start_with(pool, target, channel, origin, COMMITTERS)
    }

    /// [`Committer::start`] with `committers` tasks (at least one).
    pub fn start_with(
        pool: Pool,
        target: Target,
        channel: String,
        origin: u64,
        committers: usize,
    ) -> Committer {
        let (jobs, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(Queue {
            jobs: rx,
            held: None,
        }));
        let stats = Arc::new(GroupStats::default());
        let sink = Sink {
            pool,
            target,
            channel,
            origin,
        };
        for _ in 0..committers.max(1) {
            tokio::spawn(commit_groups(queue.clone(), sink.clone(), stats.clone()));
        }
        Committer { jobs, stats }
    }

    /// Decides and stores a push with whatever pushes wait beside it. The push is queued when
    /// this is called, and stored even if the answer is no longer awaited (a phone that hung up
    /// finds it stored when it pushes again).
    pub fn push(
        &self,
        ctx: PushContext,
        ops: Vec<Op>,
    ) -> impl Future<Output = Result<Pushed, StorageError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let sent = self
            .jobs
            .send(Job { ctx, ops, answer })
            .map_err(|_| stopped());
        async move {
            sent?;
            answered.await.map_err(|_| stopped())?
        }
    }

    /// Commits so far and the pushes they carried.
    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }
}

fn stopped() -> StorageError {
    StorageError::Task("the push was not answered: the PostgreSQL committer stopped".into())
}

/// One committer's loop: takes a group, stores it, answers it; ends when the queue closes.
async fn commit_groups(queue: Arc<Mutex<Queue>>, sink: Sink, stats: Arc<GroupStats>) {
    loop {
        let group = {
            let mut queue = queue.lock().await;
            let first = match queue.held.take() {
                Some(job) => job,
                None => match queue.jobs.recv().await {
                    Some(job) => job,
                    None => return,
                },
            };
            let mut ops = first.ops.len();
            let mut group = vec![first];
            while group.len() < MAX_GROUP_PUSHES && ops < MAX_GROUP_OPS {
                match queue.jobs.try_recv() {
                    Ok(job) if ops + job.ops.len() <= MAX_GROUP_OPS => {
                        ops += job.ops.len();
                        group.push(job);
                    }
                    Ok(job) => {
                        queue.held = Some(job);
                        break;
                    }
                    Err(_) => break,
                }
            }
            group
        };
        stats.record(group.len());
        // A task of its own: a panic while deciding a group drops that group's answers (its
        // callers see an error) and leaves this committer running.
        let _ = tokio::spawn(store(sink.clone(), group)).await;
    }
}

/// Stores a group and answers each of its pushes; a group that fails is stored again push by
/// push, so each push gets its own answer.
async fn store(sink: Sink, group: Vec<Job>) {
    let sink = &sink;
    let together = {
        let parts: Vec<oplog::PushOf<'_>> = group
            .iter()
            .map(|job| (&job.ctx, job.ops.as_slice()))
            .collect();
        push_parts(sink, &parts).await
    };
    match together {
        Ok(pushed) => {
            for (job, pushed) in group.into_iter().zip(pushed) {
                let _ = job.answer.send(Ok(pushed));
            }
        }
        Err(e) if group.len() == 1 => {
            let job = group.into_iter().next().expect("one job");
            let _ = job.answer.send(Err(e));
        }
        Err(e) => {
            tracing::warn!(
                pushes = group.len(),
                error = %e,
                "a group of pushes failed; storing its pushes one by one"
            );
            for job in group {
                let alone = push_parts(sink, &[(&job.ctx, job.ops.as_slice())])
                    .await
                    .map(|mut pushed| pushed.pop().expect("one push's answer"));
                let _ = job.answer.send(alone);
            }
        }
    }
}

async fn push_parts(sink: &Sink, parts: &[oplog::PushOf<'_>]) -> Result<Vec<Pushed>, StorageError> {
    let mut client = open::get(&sink.pool, &sink.target).await?;
    oplog::push(&mut client, parts, &sink.channel, sink.origin).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use gridwork_domain::hlc::{Hlc, HlcClock};
    use gridwork_domain::sync::PushOutcome;
    use uuid::Uuid;

    use super::*;
    use crate::storage::postgres::{PgStorage, locks, notify, scratch::ScratchDatabase};
    use crate::storage::test_ops::{admin, district};

    /// A committer of its own (one task) on a fresh database, and a session outside its pool.
    async fn setup() -> (
        ScratchDatabase,
        PgStorage,
        Committer,
        tokio_postgres::Client,
    ) {
        let db = ScratchDatabase::for_test().await;
        let storage = PgStorage::connect(db.url()).await.unwrap();
        let committer = Committer::start_with(
            storage.pool.clone(),
            storage.target.clone(),
            notify::channel("public"),
            1,
            1,
        );
        let (session, conn) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        (db, storage, committer, session)
    }

    /// Holds the committer: `session` takes the lock of `op`'s record, a push of `op` is sent,
    /// and this returns once that push waits for the lock (so what is sent next queues behind
    /// it). Unlock to let it go.
    async fn hold(
        committer: &Committer,
        session: &tokio_postgres::Client,
        op: gridwork_domain::op::Op,
    ) -> tokio::task::JoinHandle<Result<Pushed, StorageError>> {
        let key = locks::key(op.entity_id);
        session
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .await
            .unwrap();
        let held = tokio::spawn(committer.push(admin(op.stamp.device), vec![op]));
        loop {
            let waiting: i64 = session
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if waiting > 0 {
                return held;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    fn accepted(pushed: &Pushed) -> u64 {
        match pushed.results[0].outcome {
            PushOutcome::Accepted { seq } => seq,
            ref other => panic!("not accepted: {other:?}"),
        }
    }

    /// Pushes queued while the committer is busy are decided and committed together, in the
    /// order they were sent, each answered alone; the same operation sent twice in one group
    /// is stored once (the second copy sees the first).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_queued_behind_a_busy_committer_share_one_commit_in_order() {
        let (_db, _storage, committer, session) = setup().await;
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let first = district(&mut clock, device, 0);
        let key = locks::key(first.entity_id);
        let held = hold(&committer, &session, first).await;

        let ops: Vec<_> = (1..=20).map(|n| district(&mut clock, device, n)).collect();
        let mut pushes = Vec::new();
        for op in &ops {
            pushes.push(tokio::spawn(
                committer.push(admin(device), vec![op.clone()]),
            ));
        }
        let again = tokio::spawn(committer.push(admin(device), vec![ops[4].clone()]));
        session
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .await
            .unwrap();
        let first_seq = accepted(&held.await.unwrap().unwrap());
        let mut seqs = Vec::new();
        for p in pushes {
            let pushed = p.await.unwrap().unwrap();
            let seq = accepted(&pushed);
            assert_eq!(
                pushed.last, seq,
                "each push's end is its own last operation"
            );
            assert!(!pushed.touched.is_empty(), "each push names its buckets");
            seqs.push(seq);
        }
        assert!(first_seq < seqs[0], "the held push comes first");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "stored in the order sent: {seqs:?}"
        );
        let again = again.await.unwrap().unwrap();
        assert_eq!(
            again.results[0].outcome,
            PushOutcome::Duplicate { seq: seqs[4] },
            "the copy in the same group is a duplicate of the first"
        );
        let stats = committer.stats();
        assert_eq!(
            stats.groups.load(Ordering::Relaxed),
            2,
            "held, then the rest"
        );
        assert_eq!(stats.pushes.load(Ordering::Relaxed), 22);
        assert_eq!(stats.largest.load(Ordering::Relaxed), 21);
        let stored: i64 = session
            .query_one("SELECT count(*) FROM ops", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, 21);
    }

    /// A group that the database refuses is stored again push by push: the pushes before and
    /// after the failing one are stored, it is answered with its own error and leaves nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_push_fails_alone_and_the_rest_of_its_group_is_stored() {
        let (_db, _storage, committer, session) = setup().await;
        let device = Uuid::now_v7();
        let mut clock = HlcClock::new(Hlc::ZERO, 0);
        let ops: Vec<_> = (1..=3).map(|n| district(&mut clock, device, n)).collect();
        // The database itself refuses the second push's operation (as a full disk would).
        session
            .batch_execute(&format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.entity_id = '{}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER refuse BEFORE INSERT ON ops FOR EACH ROW EXECUTE FUNCTION refuse();",
                ops[1].entity_id
            ))
            .await
            .unwrap();
        let first = district(&mut clock, device, 0);
        let key = locks::key(first.entity_id);
        let held = hold(&committer, &session, first).await;
        let mut pushes = Vec::new();
        for op in &ops {
            pushes.push(tokio::spawn(
                committer.push(admin(device), vec![op.clone()]),
            ));
        }
        session
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .await
            .unwrap();
        accepted(&held.await.unwrap().unwrap());
        let mut answers = Vec::new();
        for p in pushes {
            answers.push(p.await.unwrap());
        }
        let one = accepted(answers[0].as_ref().unwrap());
        let err = answers[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("refused by the test"), "{err}");
        let three = accepted(answers[2].as_ref().unwrap());
        assert!(one < three);
        assert_eq!(
            committer.stats().largest.load(Ordering::Relaxed),
            3,
            "the three were tried as one group"
        );
        let stored: Vec<Uuid> = session
            .query("SELECT entity_id FROM ops ORDER BY seq", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(stored.len(), 3, "the held push and two of the three");
        assert_eq!(&stored[1..], &[ops[0].entity_id, ops[2].entity_id]);
    }
}
