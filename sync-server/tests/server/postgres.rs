//! What only the PostgreSQL backend has to prove: several server processes on one database
//! (each `PgStorage` here has its own pool and listening connection, as a process would) keep
//! sequence numbers in commit order and wake each other's long polls; migrations run once, bring
//! every older schema with its data to the current one, and a newer schema is refused; an
//! unreachable server is named clearly. The checks every backend passes are in `conformance.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gridwork_domain::op::EntityKind;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::postgres::open::{latest_version, migrate_to, schema_version};
use gridwork_server::storage::{PgStorage, ScopeFilter, Storage, StorageError};
use serde_json::json;
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::common::{FieldData, Phone, accepted, town};

/// A guard against a hang, not a timing check: far longer than anything here takes.
const PATIENCE: Duration = Duration::from_secs(60);

async fn sql(db: &ScratchDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(db.url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Three server processes take pushes from many phones at once while a fourth device pulls
/// after its cursor the whole time: it gets every operation, in increasing order, none skipped
/// (a seq handed out early but committed late would be).
#[tokio::test]
async fn pushes_through_several_processes_reach_a_puller_in_order_and_none_is_skipped() {
    let db = ScratchDatabase::for_test().await;
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Arc::new(PgStorage::connect(db.url()).await.unwrap()));
    }
    let mut seeder = Phone::offline();
    let town = town(&mut seeder, 4);
    servers[0]
        .push(seeder.ctx(), town.ops.clone())
        .await
        .unwrap();

    let mut pushers = Vec::new();
    for p in 0..6 {
        let server = servers[p % servers.len()].clone();
        let households: Vec<Uuid> = town.households.iter().map(|h| h.id).collect();
        pushers.push(tokio::spawn(async move {
            let mut phone = Phone::offline();
            let mut ids = Vec::new();
            for round in 0..10 {
                let ops: Vec<_> = (0..4)
                    .map(|i| {
                        phone.set(
                            EntityKind::Household,
                            households[(round + i) % households.len()],
                            json!({ "unit": format!("{p}-{round}{i}") }),
                        )
                    })
                    .collect();
                ids.extend(ops.iter().map(|o| o.id));
                for r in server.push(phone.ctx(), ops).await.unwrap() {
                    accepted(&r);
                }
            }
            ids
        }));
    }
    let reader = servers[1].clone();
    let done = Arc::new(AtomicBool::new(false));
    let pushing_over = done.clone();
    let puller = tokio::spawn(async move {
        let mut cursor = 0;
        let mut seen = Vec::new();
        loop {
            // Read the flag first: a page read after the pushers finished sees all they stored.
            let over = pushing_over.load(Ordering::SeqCst);
            let page = reader
                .pull(cursor, 7, ScopeFilter::Everything)
                .await
                .unwrap();
            seen.extend(page.ops.iter().map(|o| (o.seq, o.op.id)));
            cursor = page.next;
            if page.ops.is_empty() {
                if over {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        }
    });
    let mut pushed = BTreeSet::new();
    for p in pushers {
        pushed.extend(p.await.unwrap());
    }
    pushed.extend(town.ops.iter().map(|o| o.id));
    done.store(true, Ordering::SeqCst);
    let seen = puller.await.unwrap();
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "the cursor only moves forward"
    );
    let got: BTreeSet<Uuid> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(got.len(), seen.len(), "nothing came twice");
    assert_eq!(got, pushed, "the puller missed nothing");
}

/// The classic hazard of sequence numbers under concurrent commits, forced: process A's push
/// takes its number and then stalls before committing (a row it must write is locked by another
/// session); process B's push takes a later number and commits; process C pulls meanwhile and
/// after. C must get A's operation once A commits: a cursor that passed B's number while A's was
/// still uncommitted would skip A's for ever. (With numbers from a plain sequence and no horizon,
/// this test fails: C reads B's operation, moves its cursor past A's number, and never sees it.)
/// Pushes do not wait for each other here: B commits while A is stalled.
#[tokio::test]
async fn a_push_committed_after_a_later_one_is_not_skipped_by_a_reader_of_a_third_process() {
    let db = ScratchDatabase::for_test().await;
    let a = Arc::new(PgStorage::connect(db.url()).await.unwrap());
    let b = PgStorage::connect(db.url()).await.unwrap();
    let c = PgStorage::connect(db.url()).await.unwrap();
    let mut seeder = Phone::offline();
    let town = town(&mut seeder, 2);
    a.push(seeder.ctx(), town.ops.clone()).await.unwrap();
    let mut cursor = c.pull(0, 1000, ScopeFilter::Everything).await.unwrap().next;
    let (first, second) = (town.households[0].id, town.households[1].id);

    // Another session holds the row of the first household: A's push will number its operation
    // and then wait on that row, uncommitted.
    let blocker = sql(&db).await;
    blocker.batch_execute("BEGIN").await.unwrap();
    blocker
        .execute("SELECT 1 FROM records WHERE id = $1 FOR UPDATE", &[&first])
        .await
        .unwrap();
    let mut phone_a = Phone::offline();
    let stalled = phone_a.set(EntityKind::Household, first, json!({ "unit": "A-1" }));
    let stalled_id = stalled.id;
    let pushing = {
        let a = a.clone();
        let ctx = phone_a.ctx();
        tokio::spawn(async move { a.push(ctx, vec![stalled]).await.unwrap() })
    };
    let watcher = sql(&db).await;
    tokio::time::timeout(PATIENCE, async {
        loop {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("A's push reaches the locked row");

    // B's push to another household goes through and commits while A's waits.
    let mut phone_b = Phone::offline();
    let quick = phone_b.set(EntityKind::Household, second, json!({ "unit": "B-1" }));
    let quick_seq = accepted(&b.push(phone_b.ctx(), vec![quick.clone()]).await.unwrap()[0]);

    // C pulls now, while A is uncommitted: whatever it gets, its cursor must not pass A.
    let mut seen = Vec::new();
    let page = c.pull(cursor, 1000, ScopeFilter::Everything).await.unwrap();
    seen.extend(page.ops.iter().map(|o| (o.seq, o.op.id)));
    cursor = page.next;
    assert!(
        cursor < quick_seq,
        "the cursor waits below B's number while an earlier push is open"
    );

    blocker.batch_execute("ROLLBACK").await.unwrap();
    let stalled_seq = accepted(
        &tokio::time::timeout(PATIENCE, pushing)
            .await
            .expect("A's push finishes once the row is free")
            .unwrap()[0],
    );
    assert!(stalled_seq < quick_seq, "A took its number before B");

    tokio::time::timeout(PATIENCE, async {
        while !seen.iter().any(|(_, id)| *id == quick.id) {
            let page = c.pull(cursor, 1000, ScopeFilter::Everything).await.unwrap();
            seen.extend(page.ops.iter().map(|o| (o.seq, o.op.id)));
            cursor = page.next;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("C gets B's operation");
    let ids: Vec<Uuid> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ids,
        vec![stalled_id, quick.id],
        "C got A's operation, then B's, each once"
    );
}

/// A phone waiting on one process hears about a push made through another.
#[tokio::test]
async fn a_push_through_one_process_wakes_the_waiters_of_another() {
    let db = ScratchDatabase::for_test().await;
    let a = PgStorage::connect(db.url()).await.unwrap();
    let b = PgStorage::connect(db.url()).await.unwrap();
    let mut latest = a.subscribe();
    let mut phone = Phone::offline();
    let town = town(&mut phone, 1);
    let results = b.push(phone.ctx(), town.ops.clone()).await.unwrap();
    let last = accepted(results.last().unwrap());
    tokio::time::timeout(PATIENCE, latest.wait_for(|seq| *seq >= last))
        .await
        .expect("process A heard of B's push")
        .unwrap();

    // A restarted PostgreSQL or a dropped connection: A's listening connection is killed; it
    // comes back by itself and still hears the next push.
    let killed: i64 = sql(&db)
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database()
               AND application_name LIKE '%notifications%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2, "both processes listen");
    let more = phone.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "unit": "8-808" }),
    );
    let seq = accepted(&b.push(phone.ctx(), vec![more]).await.unwrap()[0]);
    tokio::time::timeout(PATIENCE, latest.wait_for(|s| *s >= seq))
        .await
        .expect("process A listens again after its connection dropped")
        .unwrap();
}

/// Several processes starting at once on an empty database migrate it once.
#[tokio::test]
async fn processes_starting_together_migrate_once() {
    let db = ScratchDatabase::for_test().await;
    let url = db.url().to_string();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStorage::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().unwrap();
    }
    let storage = PgStorage::connect(db.url()).await.unwrap();
    assert_eq!(storage.schema_version().await.unwrap(), latest_version());
    let rows: i64 = sql(&db)
        .await
        .query_one("SELECT count(*) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, i64::from(latest_version()));
}

/// The server's sessions run without JIT and with plans made once per prepared statement
/// (ADR 0051), and a URL's own `options` still apply (they come after ours: a deployment can
/// override either setting).
#[tokio::test]
async fn the_server_s_sessions_plan_once_and_never_jit() {
    let db = ScratchDatabase::for_test().await;
    async fn show(client: &tokio_postgres::Client, name: &str) -> String {
        let row = client.query_one(&format!("SHOW {name}"), &[]).await;
        row.unwrap().get(0)
    }
    let target = gridwork_server::storage::postgres::Target::parse(db.url()).unwrap();
    let (client, connection) = target.config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(show(&client, "jit").await, "off");
    assert_eq!(show(&client, "plan_cache_mode").await, "force_generic_plan");

    let separator = if db.url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20jit%3Don", db.url());
    let target = gridwork_server::storage::postgres::Target::parse(&url).unwrap();
    let (client, connection) = target.config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(
        show(&client, "jit").await,
        "on",
        "the URL's own options come last"
    );
    assert_eq!(show(&client, "plan_cache_mode").await, "force_generic_plan");
}

/// A record's update rewrites its state in place (a heap-only tuple: no index of `records`
/// gets a new entry), as no index reads `state` since migration 009 (ADR 0051); and a building
/// is still found by its unified address code, now a column of its own. Statistics reach
/// `pg_stat_user_tables` a moment after the writing session goes idle, so the check waits for
/// the updates to be counted.
#[tokio::test]
async fn a_record_s_update_is_written_in_place_and_the_address_code_still_finds_it() {
    use gridwork_server::storage::intake::IntakeStorage;
    let db = ScratchDatabase::for_test().await;
    let server = PgStorage::connect(db.url()).await.unwrap();
    let mut phone = Phone::offline();
    let town = town(&mut phone, 2);
    for r in server.push(phone.ctx(), town.ops.clone()).await.unwrap() {
        accepted(&r);
    }
    // One update of one record: the page it sits on has the room the table's fill factor
    // leaves (several updates of neighbours fill it, and then a new version goes elsewhere, as
    // PostgreSQL does: the benchmark counts what a whole workload gets).
    let household = town.households[0].id;
    let update = phone.set(EntityKind::Household, household, json!({ "unit": "2-1" }));
    for r in server.push(phone.ctx(), vec![update]).await.unwrap() {
        accepted(&r);
    }
    let updates = 1;
    let stats = sql(&db).await;
    let deadline = std::time::Instant::now() + PATIENCE;
    let (updated, in_place) = loop {
        let row = stats
            .query_one(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
                 WHERE relname = 'records'",
                &[],
            )
            .await
            .unwrap();
        let (updated, in_place): (i64, i64) = (row.get(0), row.get(1));
        if updated as usize >= updates || std::time::Instant::now() > deadline {
            break (updated, in_place);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(updated as usize, updates, "the update was counted");
    assert_eq!(
        in_place, updated,
        "the update of a record was a heap-only tuple"
    );

    let code: String = stats
        .query_one(
            "SELECT state::jsonb -> 'fields' ->> 'address_code' FROM records
             WHERE kind = 'building' ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let id: Uuid = stats
        .query_one(
            "SELECT id FROM records WHERE kind = 'building' ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        server.building_by_address_code(code).await.unwrap(),
        Some(id)
    );
}

/// The tables, columns, constraints and indexes of a database, as text to compare.
async fn schema_of(db: &ScratchDatabase) -> Vec<String> {
    let client = sql(db).await;
    let mut schema = Vec::new();
    for row in client
        .query(
            "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, ''),
                    is_identity, coalesce(identity_generation, '')
             FROM information_schema.columns WHERE table_schema = current_schema()
             ORDER BY table_name, column_name",
            &[],
        )
        .await
        .unwrap()
    {
        let cols: Vec<String> = (0..7).map(|i| row.get::<_, String>(i)).collect();
        schema.push(cols.join(" "));
    }
    for row in client
        .query(
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
    {
        schema.push(row.get(0));
    }
    for row in client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexdef",
            &[],
        )
        .await
        .unwrap()
    {
        schema.push(row.get(0));
    }
    schema
}

/// The data tables of a database (not the migrations' own `schema_version`) with their columns,
/// tables before the tables whose foreign keys point at them.
async fn tables_of(client: &tokio_postgres::Client) -> Vec<(String, Vec<String>)> {
    let mut tables = Vec::new();
    for row in client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name <> 'schema_version'
             ORDER BY table_name",
            &[],
        )
        .await
        .unwrap()
    {
        let table: String = row.get(0);
        let columns = client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
                &[&table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tables.push((table, columns));
    }
    let references: Vec<(String, String)> = client
        .query(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut ordered: Vec<(String, Vec<String>)> = Vec::new();
    while !tables.is_empty() {
        let ready = tables
            .iter()
            .position(|(t, _)| {
                references.iter().all(|(from, to)| {
                    from != t || to == t || ordered.iter().any(|(done, _)| done == to)
                })
            })
            .expect("no cycle of foreign keys");
        ordered.push(tables.remove(ready));
    }
    ordered
}

fn column_list(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    quoted.join(", ")
}

/// The rows of `table`, only `columns`, as JSON text in a stable order.
async fn rows_of(client: &tokio_postgres::Client, table: &str, columns: &[String]) -> Vec<String> {
    client
        .query(
            &format!(
                "SELECT row_to_json(t)::text FROM (SELECT {} FROM \"{table}\") t ORDER BY 1",
                column_list(columns)
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The tables holding what a server stored, as opposed to the rows its migrations set up:
/// `log_position` holds the base of log positions, which each database's migration computes
/// from the log it found (and every start raises above the stored log); `accounts_version` the
/// version of cached views.
async fn stored_tables(client: &tokio_postgres::Client) -> Vec<(String, Vec<String>)> {
    tables_of(client)
        .await
        .into_iter()
        .filter(|(table, _)| table != "log_position" && table != "accounts_version")
        .collect()
}

/// Copies into `to` (a database at an older version) the rows of `from` (a current one), only
/// the columns the older schema has, as the older server would have stored them; identities
/// carry on after the copied numbers, as they would have.
async fn copy_rows(from: &tokio_postgres::Client, to: &tokio_postgres::Client) {
    for (table, columns) in stored_tables(to).await {
        let list = column_list(&columns);
        let rows: String = from
            .query_one(
                &format!(
                    "SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT {list} FROM \"{table}\") t"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        to.execute(
            &format!(
                "INSERT INTO \"{table}\" ({list}) OVERRIDING SYSTEM VALUE
                 SELECT {list} FROM json_populate_recordset(NULL::\"{table}\", $1::text::json)"
            ),
            &[&rows],
        )
        .await
        .unwrap();
    }
    for row in to
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .await
        .unwrap()
    {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        to.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), max(\"{column}\"))
                 FROM \"{table}\" HAVING count(*) > 0"
            ),
            &[&table, &column],
        )
        .await
        .unwrap();
    }
}

/// A database made by every older server (version 0: an empty one; then one per migration),
/// holding what that server would hold, migrated by this one: it ends up with the schema of a
/// fresh database, keeps every row, and serves it as a server that never upgraded does. The
/// current version runs too, as the control (reopened, nothing changes).
#[tokio::test]
async fn every_older_schema_migrates_to_the_fresh_one() {
    let fresh = ScratchDatabase::for_test().await;
    let original = PgStorage::connect(fresh.url()).await.unwrap();
    let mut data = FieldData::store(&original).await;
    let want = schema_of(&fresh).await;
    let source = sql(&fresh).await;
    let mut older_compared = Vec::new();
    for old in 0..=latest_version() {
        let db = ScratchDatabase::for_test().await;
        let pool = deadpool_postgres::Config {
            url: Some(db.url().to_string()),
            ..Default::default()
        }
        .create_pool(Some(deadpool_postgres::Runtime::Tokio1), NoTls)
        .unwrap();
        let mut client = pool.get().await.unwrap();
        migrate_to(&mut client, old).await.unwrap();
        assert_eq!(schema_version(&client).await.unwrap(), old);
        drop(client);
        drop(pool);
        if old == 0 {
            // What the comparison below sees is the schema indeed: an empty database differs.
            // (Later versions may differ from the latest in data only.)
            assert_ne!(schema_of(&db).await, want, "version 0 has no tables yet");
        }
        let target = sql(&db).await;
        copy_rows(&source, &target).await;
        let kept = stored_tables(&target).await;

        let storage = PgStorage::connect(db.url()).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), latest_version());
        assert_eq!(schema_of(&db).await, want, "migrated from version {old}");
        for (table, columns) in &kept {
            assert_eq!(
                rows_of(&target, table, columns).await,
                rows_of(&source, table, columns).await,
                "{table} migrated from version {old}"
            );
        }
        if old >= 1 {
            data.assert_served_alike(&storage, &original).await;
        }
        drop(storage);
        if old < latest_version() {
            older_compared.push(old);
        }
    }
    // Version 0 at least: the loop can never again compare nothing.
    assert!(!older_compared.is_empty(), "no older version was compared");
    let older: Vec<i32> = (0..latest_version()).collect();
    assert_eq!(older_compared, older, "every older version was compared");
}

/// An old server pointed at a database a newer one migrated refuses to touch it.
#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let db = ScratchDatabase::for_test().await;
    drop(PgStorage::connect(db.url()).await.unwrap());
    sql(&db)
        .await
        .execute(
            "INSERT INTO schema_version (version, name, applied_ms) VALUES (99, 'future', 0)",
            &[],
        )
        .await
        .unwrap();
    let err = PgStorage::connect(db.url()).await.unwrap_err();
    assert!(
        matches!(err, StorageError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
}

/// Nothing listens on the port: the error names the server (not the password) and the cause.
#[tokio::test]
async fn an_unreachable_server_is_named_in_the_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = PgStorage::connect(&format!("postgres://gridwork:s3cret@127.0.0.1:{port}/city"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StorageError::Unreachable { .. }), "{err:?}");
    assert!(text.contains(&format!("127.0.0.1:{port}/city")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
