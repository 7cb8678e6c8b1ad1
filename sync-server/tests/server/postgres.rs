//! What only the PostgreSQL backend has to prove: several server processes on one database
//! (each `PgStorage` here has its own pool and listening connection, as a process would) keep
//! sequence numbers in commit order and wake each other's long polls; migrations run once and a
//! newer schema is refused; an unreachable server is named clearly. The checks every backend
//! passes are in `conformance.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gridwork_domain::op::EntityKind;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::postgres::open::{latest_version, migrate_to};
use gridwork_server::storage::{PgStorage, ScopeFilter, Storage, StorageError};
use serde_json::json;
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::common::{Phone, accepted, town};

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

/// The tables, columns and indexes of a database, as text to compare.
async fn schema_of(db: &ScratchDatabase) -> Vec<String> {
    let client = sql(db).await;
    let mut schema = Vec::new();
    for row in client
        .query(
            "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
             FROM information_schema.columns WHERE table_schema = current_schema()
             ORDER BY table_name, column_name",
            &[],
        )
        .await
        .unwrap()
    {
        let cols: Vec<String> = (0..5).map(|i| row.get::<_, String>(i)).collect();
        schema.push(cols.join(" "));
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

/// A database made by every older server, migrated step by step by this one, ends up with the
/// schema of a fresh one.
#[tokio::test]
async fn every_older_schema_migrates_to_the_fresh_one() {
    let fresh = ScratchDatabase::for_test().await;
    drop(PgStorage::connect(fresh.url()).await.unwrap());
    let want = schema_of(&fresh).await;
    for old in 1..latest_version() {
        let db = ScratchDatabase::for_test().await;
        let pool = deadpool_postgres::Config {
            url: Some(db.url().to_string()),
            ..Default::default()
        }
        .create_pool(Some(deadpool_postgres::Runtime::Tokio1), NoTls)
        .unwrap();
        migrate_to(&mut pool.get().await.unwrap(), old)
            .await
            .unwrap();
        drop(pool);
        let storage = PgStorage::connect(db.url()).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), latest_version());
        drop(storage);
        assert_eq!(schema_of(&db).await, want, "migrated from version {old}");
    }
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
