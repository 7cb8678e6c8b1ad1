//! What only the SQLite backend has to prove: a database written by every older server,
//! upgraded by this one, has the schema of a fresh database, keeps its data and serves it as
//! before (the places migration 002 adds are computed for what was stored). The checks every
//! backend passes are in `conformance.rs`.

use std::path::Path;

use gridwork_server::storage::SqliteStorage;
use gridwork_server::storage::sqlite::open::{MIGRATIONS, latest_version};
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::common::FieldData;

/// A database as the server of schema `version` left it: its migrations, its `user_version`.
fn database_at(path: &Path, version: i64) -> Connection {
    let conn = Connection::open(path).unwrap();
    for (_name, sql) in &MIGRATIONS[..version as usize] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version).unwrap();
    conn
}

/// Every table, index and trigger as SQLite keeps it, and the schema version.
fn schema_of(conn: &Connection) -> (i64, Vec<(String, String, String)>) {
    let version = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let objects = conn
        .prepare(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master
             ORDER BY type, name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (version, objects)
}

/// Each table with its columns (`sqlite_sequence` included: it keeps sequence numbers from
/// being handed out twice), tables before the tables whose foreign keys point at them.
fn tables_of(conn: &Connection) -> Vec<(String, Vec<String>)> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut tables: Vec<(String, Vec<String>, Vec<String>)> = names
        .into_iter()
        .map(|table| {
            let strings = |sql: &str| -> Vec<String> {
                conn.prepare(sql)
                    .unwrap()
                    .query_map([&table], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let columns = strings("SELECT name FROM pragma_table_info(?1) ORDER BY cid");
            let references = strings("SELECT \"table\" FROM pragma_foreign_key_list(?1)");
            (table, columns, references)
        })
        .collect();
    let mut ordered: Vec<(String, Vec<String>)> = Vec::new();
    while !tables.is_empty() {
        let ready = tables
            .iter()
            .position(|(table, _, references)| {
                references
                    .iter()
                    .all(|to| to == table || ordered.iter().any(|(done, _)| done == to))
            })
            .expect("no cycle of foreign keys");
        let (table, columns, _) = tables.remove(ready);
        ordered.push((table, columns));
    }
    ordered
}

fn column_list(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    quoted.join(", ")
}

/// The rows of `table` in `schema` (`main` or an attached name), only `columns`, in order.
fn rows_of(conn: &Connection, schema: &str, table: &str, columns: &[String]) -> Vec<Vec<Value>> {
    let list = column_list(columns);
    let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
    conn.prepare(&format!(
        "SELECT {list} FROM {schema}.\"{table}\" ORDER BY {}",
        order.join(", ")
    ))
    .unwrap()
    .query_map([], |r| (0..columns.len()).map(|i| r.get(i)).collect())
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// A database written by every older server (version 0: an empty file; then one per
/// migration), holding what that server would hold, opened by this one: it ends up with the
/// schema of a fresh database, keeps every row, and serves it as a server that never upgraded
/// does. The current version runs too, as the control (reopened, nothing changes).
#[tokio::test]
async fn every_older_schema_migrates_to_the_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    let original = SqliteStorage::open(&fresh).unwrap();
    let mut data = FieldData::store(&original).await;
    let want = schema_of(&Connection::open(&fresh).unwrap());
    assert_eq!(want.0, latest_version());

    let mut older_compared = Vec::new();
    for old in 0..=latest_version() {
        let path = dir.path().join(format!("from-{old}.db"));
        let conn = database_at(&path, old);
        if old == 0 {
            // What the comparison below sees is the schema indeed: an empty database differs.
            // (Later versions may differ from the latest in data only.)
            assert_ne!(schema_of(&conn), want, "version 0 has no tables yet");
        }
        // What that server stored: the rows of the current database, in the columns it had.
        conn.execute("ATTACH DATABASE ?1 AS original", [fresh.to_str().unwrap()])
            .unwrap();
        // `accounts_version` is the migration's own row (the version of cached views), not
        // something a server stored.
        let kept: Vec<_> = tables_of(&conn)
            .into_iter()
            .filter(|(t, _)| t != "accounts_version")
            .collect();
        // `sqlite_sequence` follows the copied numbers by itself (and is compared below).
        for (table, columns) in kept.iter().filter(|(t, _)| t != "sqlite_sequence") {
            let list = column_list(columns);
            conn.execute(
                &format!(
                    "INSERT INTO main.\"{table}\" ({list}) SELECT {list} FROM original.\"{table}\""
                ),
                [],
            )
            .unwrap();
        }
        conn.execute("DETACH DATABASE original", []).unwrap();
        drop(conn);

        let upgraded = SqliteStorage::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(schema_of(&conn), want, "migrated from version {old}");
        conn.execute("ATTACH DATABASE ?1 AS original", [fresh.to_str().unwrap()])
            .unwrap();
        for (table, columns) in &kept {
            assert_eq!(
                rows_of(&conn, "main", table, columns),
                rows_of(&conn, "original", table, columns),
                "{table} migrated from version {old}"
            );
        }
        if old >= 1 {
            // Where each record sits, computed now for what was stored before places were
            // kept: the same as the server that kept them from the start.
            let places = ["id".to_string(), "place".into(), "parent".into()];
            assert_eq!(
                rows_of(&conn, "main", "records", &places),
                rows_of(&conn, "original", "records", &places),
                "record places migrated from version {old}"
            );
            let places = ["seq".to_string(), "place".into()];
            assert_eq!(
                rows_of(&conn, "main", "ops", &places),
                rows_of(&conn, "original", "ops", &places),
                "operation places migrated from version {old}"
            );
            data.assert_served_alike(&upgraded, &original).await;
        }
        drop(conn);
        drop(upgraded);
        if old < latest_version() {
            older_compared.push(old);
        }
    }
    // Version 1 at least (0 and the control are not enough): a database with data upgraded.
    assert!(
        older_compared.iter().any(|v| *v >= 1),
        "no older version with data was compared: {older_compared:?}"
    );
    let older: Vec<i64> = (0..latest_version()).collect();
    assert_eq!(older_compared, older, "every older version was compared");
}

/// The accounts version is read on the request's own thread now (ADR 0048), on a connection of
/// its own: a revocation another process commits to the same file (an operator's
/// `gridwork-server admin revoke-device`) is seen by the very next read, never a copy kept from
/// before. And a cursor is answered from what this process saw stored only while it is within
/// that: one past it, stored by the other process, is still checked against the file's log.
#[tokio::test]
async fn another_process_s_revocation_and_log_are_seen_at_the_next_request() {
    use gridwork_domain::sync::Role;
    use gridwork_server::clock;
    use gridwork_server::storage::Storage;

    use crate::common::{Phone, town};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let serving = SqliteStorage::open(&path).unwrap();
    let mut admin = Phone::offline();
    let town = town(&mut admin, 1);
    serving.push(admin.ctx(), town.ops.clone()).await.unwrap();
    let user = serving
        .create_user("网格员".into(), Role::Gridworker, vec![])
        .await
        .unwrap();
    let code = serving
        .create_enrollment_code(user.id, clock::now_ms())
        .await
        .unwrap();
    let device = uuid::Uuid::now_v7();
    serving
        .enroll(code, device, "手机".into(), clock::now_ms())
        .await
        .unwrap();
    let before = serving.accounts_version().await.unwrap();
    let end = serving.log_end().await.unwrap();
    assert_eq!(
        serving.cursor_in_log(end).await.unwrap(),
        end,
        "the end itself is a cursor in the log"
    );
    assert_eq!(
        serving.cursor_in_log(end + 1_000).await.unwrap(),
        end,
        "a cursor past the end is read from the end"
    );

    // The operator's command: another storage on the same file, as another process opens it.
    let operator = SqliteStorage::open(&path).unwrap();
    assert!(
        operator
            .revoke_device(device, clock::now_ms())
            .await
            .unwrap()
    );
    assert!(
        serving.accounts_version().await.unwrap() > before,
        "the serving process sees the revocation at its next request"
    );
    let mut other = Phone::offline();
    let more = crate::common::town(&mut other, 1);
    operator.push(other.ctx(), more.ops.clone()).await.unwrap();
    let later = operator.log_end().await.unwrap();
    assert!(later > end);
    assert_eq!(
        serving.cursor_in_log(later).await.unwrap(),
        later,
        "a cursor the other process's log reached is valid here too"
    );
    assert_eq!(serving.cursor_in_log(later + 5).await.unwrap(), later);
}
