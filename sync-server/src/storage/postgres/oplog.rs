//! The operation log on PostgreSQL: a push decided by the planner and written in one
//! transaction that holds only the locks of the records it touches, and pages read from the
//! reader's buckets below the log's safe horizon.
//!
//! # Positions instead of a lock over the log
//! A puller reads `seq > cursor` and moves its cursor to what it read, so a number that becomes
//! visible after a larger one was read would be skipped for ever. Pushes from several processes
//! run at once here, and commit in any order. So an operation's number is its *log position*,
//! `base + (transaction id << 16) + its index in the push`, and readers read only below the
//! *horizon* `base + (oldest << 16)`, where `oldest` is the oldest transaction id still running
//! in this database ([`horizon`]): every transaction with a smaller id has committed or rolled
//! back, so every position below the horizon that will ever exist exists now, and a later push
//! can only write above it. A push that runs long holds the horizon back
//! (its readers wait, they skip nothing). `sync-server/tests/server/postgres.rs` proves it with a
//! push held open mid-transaction while another commits and a third process pulls. ADR 0019.

use deadpool_postgres::{Client, GenericClient, Transaction};
use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::scope::Bucket;
use gridwork_domain::sync::{PushOutcome, PushResult};
use tokio_postgres::error::SqlState;

use super::accounts;
use super::locks::{LockSet, Mode};
use super::notify;
use super::plan_facts::{PgFacts, Retry};
use super::write_buffer::{WriteBuffer, first_cause};
use crate::rules::PushContext;
use crate::rules::plan::{self, StoredOp};
use crate::storage::{LogEntry, LogPage, Pushed, ReadCounters, StorageError};

/// Positions one transaction may hand out (`<< 16`): far more than the operations of a push.
const POSITIONS_PER_TRANSACTION: u64 = 1 << 16;

/// How many times a push starts again (a lock it found taken, a deadlock another client's
/// transaction caused) before it gives up with the error.
const MAX_ATTEMPTS: usize = 50;

/// The end of the log a reader may read to: the last position below the horizon (0 for an
/// empty log), and the horizon itself.
pub async fn end_of_log(client: &impl GenericClient) -> Result<(u64, u64), StorageError> {
    let horizon = horizon(client).await?;
    let stmt = client
        .prepare_cached("SELECT max(seq) FROM ops WHERE seq < $1")
        .await?;
    let end: Option<i64> = client.query_one(&stmt, &[&horizon]).await?.get(0);
    Ok((end.unwrap_or(0) as u64, horizon as u64))
}

/// Every position below this is final: `base + (id << 16)` for the oldest transaction id still
/// running in this database, or the next id to be handed out when none runs.
///
/// Only this database's transactions count (a long transaction in another database of the same
/// cluster must not hold every phone back), so the running ids come from `pg_stat_activity`,
/// read after the statement's snapshot was taken: an id below the snapshot's `xmax` that is not
/// running then has committed or rolled back, and every later statement sees it; an id handed
/// out after the snapshot is at or above `xmax`. `pg_stat_activity` shows `backend_xid` for the
/// sessions of the same role (every server process and `gridwork-server admin` connect as one
/// role; a role that writes the log besides needs `pg_read_all_stats` granted to the server's).
///
/// When the snapshot itself shows no transaction id running anywhere in the cluster (its `xmin`
/// is its `xmax`), the horizon is `xmax` without that read: an id `pg_stat_activity` could show
/// then was handed out after the snapshot, at or above `xmax`, so the least is `xmax` anyway.
/// `pg_stat_activity` copies every backend slot (it grows with `max_connections`); the idle
/// phone's poll at a quiet moment skips it ([`HORIZON`]).
async fn horizon(client: &impl GenericClient) -> Result<i64, StorageError> {
    let stmt = client
        .prepare_cached(&format!("{HORIZON} SELECT horizon FROM h"))
        .await?;
    Ok(client.query_one(&stmt, &[]).await?.get(0))
}

/// A common table `h` with one column, `horizon` (see [`horizon`]), for statements that read
/// below it. The scalar subquery over `pg_stat_activity` is an init plan, run only when the
/// `CASE` reaches it.
const HORIZON: &str = "WITH h AS (
    SELECT base + ((CASE
        WHEN pg_snapshot_xmin(snap) = pg_snapshot_xmax(snap)
            THEN pg_snapshot_xmax(snap)::text::bigint
        ELSE least(
            pg_snapshot_xmax(snap)::text::bigint,
            (SELECT min(backend_xid::text::bigint) FROM pg_stat_activity
             WHERE datname = current_database() AND backend_xid IS NOT NULL)
        )
    END) << 16) AS horizon
    FROM log_position, (SELECT pg_current_snapshot() AS snap) AS s
)";

/// One push of a group: who sent it, and its operations.
pub type PushOf<'a> = (&'a PushContext, &'a [Op]);

/// Decides and stores a group of pushes in one transaction (see
/// [`crate::storage::Storage::push`] and `group.rs`), each push decided as it would be alone
/// after the pushes before it: each attempt takes its locks, plans and writes every operation,
/// and commits; an attempt that finds a record locked by another transaction, or that
/// PostgreSQL cancels to break a deadlock, starts again. When something was stored, the commit
/// notifies `channel` with the last position and the buckets touched. Answers one [`Pushed`]
/// per push, in order.
pub async fn push(
    client: &mut Client,
    group: &[PushOf<'_>],
    channel: &str,
    origin: u64,
) -> Result<Vec<Pushed>, StorageError> {
    let mut locks = LockSet::default();
    for (_, ops) in group {
        for op in *ops {
            locks.add(op.entity_id, Mode::Exclusive);
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tx = client.transaction().await?;
        let tried = try_push(&tx, group, &mut locks, channel, origin).await;
        match tried {
            Ok(Ok(pushed)) => match tx.commit().await {
                Ok(()) => return Ok(pushed),
                Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => continue,
                Err(e) => return Err(e.into()),
            },
            Ok(Err(retry)) => {
                drop(tx);
                for (id, mode) in retry.locks {
                    locks.add(id, mode);
                }
            }
            Err(StorageError::Postgres(e)) if attempt < MAX_ATTEMPTS && retryable(&e) => {
                drop(tx);
                // Another client's transaction was in the way; let it finish.
                tokio::time::sleep(std::time::Duration::from_millis(attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether PostgreSQL refused a transaction that may succeed when run again.
fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

/// One attempt; `Ok(Err(retry))` when a lock must be taken first.
async fn try_push(
    tx: &Transaction<'_>,
    group: &[PushOf<'_>],
    locks: &mut LockSet,
    channel: &str,
    origin: u64,
) -> Result<Result<Vec<Pushed>, Retry>, StorageError> {
    locks.acquire(tx).await?;
    let mut held = locks.clone();
    let all: Vec<&Op> = group.iter().flat_map(|(_, ops)| ops.iter()).collect();
    // The transaction's id (taken now) fixes its positions; asked in the same round trip as
    // the read-ahead's first reads. (Taken before the plan is known to store anything: an id
    // the push ends up not using only holds the readers' horizon for the push's length.)
    let position = async {
        let stmt = tx
            .prepare_cached(
                "SELECT base + (pg_current_xact_id()::text::bigint << 16) FROM log_position",
            )
            .await?;
        Ok::<i64, StorageError>(tx.query_one(&stmt, &[]).await?.get(0))
    };
    let (facts, first) = match tokio::join!(PgFacts::read_ahead(tx, &all, &mut held), position) {
        (Ok(facts), Ok(first)) => (facts, first),
        (facts, first) => {
            first_cause([facts.map(drop), first.map(drop)])?;
            unreachable!("one of the two failed")
        }
    };
    let mut facts = match facts {
        Ok(facts) => facts,
        Err(retry) => return Ok(Err(retry)),
    };
    let mut next_position = first as u64;
    let mut writes = WriteBuffer::default();
    let mut placed = Vec::new();
    let mut answers = Vec::with_capacity(group.len());
    for (ctx, ops) in group {
        let mut results = Vec::with_capacity(ops.len());
        let mut touched = Vec::new();
        let mut last = 0;
        for op in *ops {
            let decision = loop {
                match plan::plan(ctx, op, &mut facts) {
                    Ok(decision) => break decision,
                    Err(need) => {
                        // The read must see this transaction's earlier writes.
                        writes.flush(tx).await?;
                        if let Err(retry) = facts.resolve(tx, need, &mut held).await? {
                            return Ok(Err(retry));
                        }
                    }
                }
            };
            let outcome = match decision.settled() {
                Ok(answer) => answer,
                Err(store) => {
                    if next_position - first as u64 >= POSITIONS_PER_TRANSACTION {
                        return Err(StorageError::Corrupt(
                            "a push stored more operations than one transaction may number".into(),
                        ));
                    }
                    let seq = next_position;
                    next_position += 1;
                    writes.add(ctx, op, &store, seq)?;
                    facts.stored(
                        op.id,
                        StoredOp {
                            seq,
                            device: op.stamp.device,
                        },
                    );
                    for (id, before, after) in store.places_written(op.entity_id) {
                        let state = store.record.as_ref().filter(|_| id == op.entity_id);
                        facts.wrote(state, id, after);
                        if before != Some(after) {
                            placed.push(id);
                        }
                    }
                    touched.extend_from_slice(&store.buckets);
                    last = seq;
                    PushOutcome::Accepted { seq }
                }
            };
            results.push(PushResult {
                op_id: op.id,
                outcome,
            });
        }
        touched.sort();
        touched.dedup();
        answers.push(Pushed {
            results,
            last,
            touched,
        });
    }
    // The last writes, the version bump and the notification go in one round trip (the
    // notification is delivered at the commit, whatever its order among them).
    let last = answers.iter().map(|p| p.last).max().unwrap_or(0);
    let notified = async {
        if last == 0 {
            return Ok(());
        }
        let mut touched: Vec<Bucket> = answers
            .iter()
            .flat_map(|p| p.touched.iter().copied())
            .collect();
        touched.sort();
        touched.dedup();
        let payloads = notify::payloads(origin, last, &touched);
        let stmt = tx
            .prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .await?;
        tx.execute(&stmt, &[&channel, &payloads]).await?;
        Ok::<(), StorageError>(())
    };
    // A user's anchor is the place of a scope entry: cached views of it are read again.
    let bumped = async {
        if !placed.is_empty() {
            accounts::bump_version_if_scope_entry(tx, &placed).await?;
        }
        Ok(())
    };
    // Not `try_join`: the statements sent after one that fails fail as "aborted", possibly
    // first; the answer names the cause.
    let (flushed, notified, bumped) = tokio::join!(writes.flush(tx), notified, bumped);
    first_cause([flushed, notified, bumped])?;
    Ok(Ok(answers))
}

/// The scope key stored with an operation.
pub async fn scope_key_of(
    client: &impl GenericClient,
    op_id: Id,
) -> Result<Option<String>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT scope_key FROM ops WHERE op_id = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&op_id]).await?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Up to `limit` operations after `after`, below the horizon, filed under any of `buckets`
/// (every operation when `None`), with their places. Counts what it reads in `reads`.
pub async fn log_page(
    client: &impl GenericClient,
    buckets: Option<&[Bucket]>,
    after: u64,
    limit: usize,
    reads: &ReadCounters,
) -> Result<(LogPage, u64), StorageError> {
    let after_i = i64::try_from(after).unwrap_or(i64::MAX);
    // One statement (an idle phone's poll is one round trip): a first row with the rows read
    // and the end of the log below the horizon, then the page's operations and one more, in
    // order. Each bucket is read as an index range, at most a page and one.
    let rows = match buckets {
        None => {
            let stmt = client
                .prepare_cached(&format!(
                    "{HORIZON},
                     picked AS (
                         SELECT seq, op, place, prior FROM ops
                         WHERE seq > $1 AND seq < (SELECT horizon FROM h) ORDER BY seq LIMIT $2
                     )
                     SELECT NULL::bigint, NULL::text, NULL::text, NULL::text,
                            0::bigint, (SELECT count(*) FROM picked),
                            (SELECT seq FROM ops WHERE seq < (SELECT horizon FROM h)
                             ORDER BY seq DESC LIMIT 1)
                     UNION ALL
                     SELECT seq, op, place, prior, NULL, NULL, NULL FROM picked
                     ORDER BY 1 NULLS FIRST"
                ))
                .await?;
            client
                .query(&stmt, &[&after_i, &(limit as i64 + 1)])
                .await?
        }
        Some(buckets) => {
            let keys: Vec<Vec<u8>> = buckets.iter().map(|b| b.to_bytes().to_vec()).collect();
            let stmt = client
                .prepare_cached(&format!(
                    "{HORIZON},
                     scanned AS (
                         SELECT s.seq FROM unnest($1::bytea[]) AS b (bucket),
                         LATERAL (
                             SELECT seq FROM op_buckets
                             WHERE bucket = b.bucket AND seq > $2
                               AND seq < (SELECT horizon FROM h)
                             ORDER BY seq LIMIT $3
                         ) AS s
                     ),
                     picked AS (SELECT DISTINCT seq FROM scanned ORDER BY seq LIMIT $3)
                     SELECT NULL::bigint, NULL::text, NULL::text, NULL::text,
                            (SELECT count(*) FROM scanned), (SELECT count(*) FROM picked),
                            (SELECT seq FROM ops WHERE seq < (SELECT horizon FROM h)
                             ORDER BY seq DESC LIMIT 1)
                     UNION ALL
                     SELECT o.seq, o.op, o.place, o.prior, NULL, NULL, NULL
                     FROM picked JOIN ops AS o ON o.seq = picked.seq
                     ORDER BY 1 NULLS FIRST"
                ))
                .await?;
            client
                .query(&stmt, &[&keys, &after_i, &(limit as i64 + 1)])
                .await?
        }
    };
    let Some((meta, found)) = rows.split_first() else {
        return Err(StorageError::Corrupt(
            "a log page without its summary row".into(),
        ));
    };
    reads.bucket_rows(meta.get::<_, i64>(4) as usize);
    reads.log_rows(meta.get::<_, i64>(5) as usize);
    let end = meta.get::<_, Option<i64>>(6).unwrap_or(0) as u64;
    let more = found.len() > limit;
    let entries = found
        .iter()
        .take(limit)
        .map(entry)
        .collect::<Result<Vec<_>, _>>()?;
    let next = match entries.last() {
        Some(last) if more => last.seq,
        _ => end.max(after),
    };
    Ok((
        LogPage {
            entries,
            next,
            more,
        },
        end,
    ))
}

fn entry(row: &tokio_postgres::Row) -> Result<LogEntry, StorageError> {
    let op: &str = row.get(1);
    let place: Option<&str> = row.get(2);
    let prior: Option<&str> = row.get(3);
    Ok(LogEntry {
        seq: row.get::<_, i64>(0) as u64,
        bytes: op.len(),
        op: serde_json::from_str(op)?,
        place: place.map(serde_json::from_str).transpose()?,
        prior: prior.map(serde_json::from_str).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use tokio_postgres::NoTls;

    use super::HORIZON;
    use crate::storage::postgres::PgStorage;
    use crate::storage::postgres::scratch::ScratchDatabase;

    async fn session(url: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    /// The horizon's statement run against the snapshot `snapshot` (`xmin:xmax:running`)
    /// instead of the statement's own: the horizon, and how many times the plan scanned the
    /// backends (`pg_stat_get_activity`, under `pg_stat_activity`).
    async fn horizon_at(client: &tokio_postgres::Client, snapshot: &str) -> (i64, u64) {
        assert_eq!(HORIZON.matches("pg_current_snapshot()").count(), 1);
        let sql = HORIZON.replace(
            "pg_current_snapshot()",
            // As the real snapshot is (`pg_current_snapshot()` is stable, not immutable), a
            // value the planner cannot fold, so the plan keeps the shape it has in the server.
            &format!("(CASE WHEN random() >= 0 THEN '{snapshot}' END)::pg_snapshot"),
        );
        let horizon: i64 = client
            .query_one(&format!("{sql} SELECT horizon FROM h"), &[])
            .await
            .unwrap()
            .get(0);
        // The plan comes back as `json`; the simple protocol hands it over as text.
        let explained = client
            .simple_query(&format!(
                "EXPLAIN (ANALYZE, FORMAT JSON) {sql} SELECT horizon FROM h"
            ))
            .await
            .unwrap()
            .into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .expect("a plan");
        let plan: serde_json::Value = serde_json::from_str(&explained).unwrap();
        fn loops(node: &serde_json::Value) -> Option<u64> {
            if node["Function Name"] == "pg_stat_get_activity" {
                return node["Actual Loops"].as_u64();
            }
            node["Plans"].as_array()?.iter().find_map(loops)
        }
        let scans = loops(&plan[0]["Plan"])
            .unwrap_or_else(|| panic!("the plan scans the backends somewhere: {plan:#}"));
        (horizon, scans)
    }

    /// With no transaction id running anywhere (the snapshot's `xmin` is its `xmax`) the horizon
    /// is `xmax` and the backends are not read; with one running in this database the horizon
    /// stops below it, read from the backends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_horizon_reads_the_backends_only_while_a_transaction_id_runs() {
        let db = ScratchDatabase::for_test().await;
        let storage = PgStorage::connect(db.url()).await.unwrap();
        let reader = storage.client().await.unwrap();
        let base: i64 = reader
            .query_one("SELECT base FROM log_position", &[])
            .await
            .unwrap()
            .get(0);

        let writer = session(db.url()).await;
        writer.batch_execute("BEGIN").await.unwrap();
        let running: i64 = writer
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await
            .unwrap()
            .get(0);

        // A snapshot with nothing running: xmax, whatever runs now (it began after it).
        let later = running + 1_000;
        assert_eq!(
            horizon_at(&reader, &format!("{later}:{later}:")).await,
            (base + (later << 16), 0)
        );
        // A snapshot with something running: the least of xmax and this database's running ids.
        assert_eq!(
            horizon_at(&reader, &format!("{running}:{later}:{running}")).await,
            (base + (running << 16), 1)
        );
        // The statement's own snapshot shows the writer running: the horizon stops below it;
        // once it committed, the horizon passes it.
        assert_eq!(
            super::horizon(&reader).await.unwrap(),
            base + (running << 16)
        );
        writer.batch_execute("COMMIT").await.unwrap();
        assert!(super::horizon(&reader).await.unwrap() > base + (running << 16));
    }
}
