//! The one way to open the server database: pragmas in one place, numbered migrations stepped by
//! `PRAGMA user_version` in one immediate transaction, a database from a newer server refused.
//! Same shape as the device's `core/src/store/open.rs`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::storage::StorageError;

/// The numbered migrations, in order; migration `i` (1-based) brings `user_version` to `i`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_oplog_and_accounts",
        include_str!("../../../migrations/001_oplog_and_accounts.sql"),
    ),
    (
        "002_places",
        include_str!("../../../migrations/002_places.sql"),
    ),
    (
        "003_alarm_responders",
        include_str!("../../../migrations/003_alarm_responders.sql"),
    ),
    (
        "004_scope_buckets",
        include_str!("../../../migrations/004_scope_buckets.sql"),
    ),
    (
        "005_intake_and_audit",
        include_str!("../../../migrations/005_intake_and_audit.sql"),
    ),
    (
        "006_console",
        include_str!("../../../migrations/006_console.sql"),
    ),
    (
        "007_device_status",
        include_str!("../../../migrations/007_device_status.sql"),
    ),
    (
        "008_blobs",
        include_str!("../../../migrations/008_blobs.sql"),
    ),
    (
        "009_record_blob_refs",
        include_str!("../../../migrations/009_record_blob_refs.sql"),
    ),
    (
        "010_no_scope_index",
        include_str!("../../../migrations/010_no_scope_index.sql"),
    ),
];

/// The version that added scope buckets: upgrading to it files what was stored before.
const BUCKETS_VERSION: i64 = 4;

/// The version that added places: upgrading to it, and past it, computes the places a
/// migration left empty.
const PLACES_VERSION: i64 = 2;

/// Bytes of the database file each connection reads through a memory map. The pages are the
/// operating system's page cache, shared by every connection, so the map costs address space,
/// not memory; a page another connection changed is read from the WAL, as without the map.
/// Beyond this size the rest of the file is read with read calls.
const MMAP_SIZE: u64 = 1 << 30;

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Statements each connection keeps prepared. rusqlite keeps 16 by default, fewer than a push
/// runs (the log, its buckets, records, places, events, accounts, savepoints), so under load
/// the cache evicted statements it needed again and SQLite parsed them anew (a few per cent of
/// the writer thread in a profile of the closed loop).
pub const STATEMENT_CACHE: usize = 128;

/// WAL pages between automatic checkpoints of the server's database.
pub const WAL_CHECKPOINT_PAGES: u32 = 4_000;

/// Opens (creating if needed) the writer connection and brings the schema up to date.
pub fn open_writer(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(classify)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL: readers (pulls, snapshots, token checks) never block the writer, nor it them.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Corrupt(format!(
            "cannot switch the journal to WAL ({mode})"
        )));
    }
    // The writer's page cache is 64 MiB (SQLite's default is 2 MiB): a push reads the records
    // it changes and the ends of the log's indexes, and a city's hot pages fit. Reads of the
    // file go through a memory map (`MMAP_SIZE`), not a read call and a copy per page. The WAL
    // is checkpointed every 4,000 pages (16 MiB; SQLite's default is 1,000): a checkpoint runs
    // inside a commit on the writer thread and copies each page changed since the last once,
    // so the hot pages of the log's end, written by every group, are copied a quarter as often.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};
         PRAGMA cache_size = -65536;
         PRAGMA mmap_size = {MMAP_SIZE};"
    ))?;
    keep_plans(&conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&conn)?;
    Ok(conn)
}

/// Opens a read-only connection on an already migrated database.
pub fn open_reader(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA temp_store = MEMORY; PRAGMA mmap_size = {MMAP_SIZE};"
    ))?;
    keep_plans(&conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Keeps each prepared statement's plan for its life (SQLite's query planner stability
/// guarantee). Without it, SQLite (3.47 and later) marks a statement whose `LIMIT` is a bound
/// parameter to be parsed and planned again every time that parameter is bound: the pull's
/// bucket scan (`LIMIT ?4`) was compiled anew on every run, 14 % of the request threads' CPU in a
/// profile of 1,000 phones. The plans do not depend on the bound values here (no statistics
/// are gathered, no `LIKE ?` is planned).
pub(crate) fn keep_plans(conn: &Connection) -> Result<(), StorageError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Steps `user_version` up to [`latest_version`] in one immediate transaction, so a crash
/// mid-upgrade leaves the old schema whole.
fn migrate(conn: &Connection) -> Result<(), StorageError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(classify)?;
    if current > latest_version() {
        return Err(StorageError::NewerSchema {
            found: current,
            supported: latest_version(),
        });
    }
    if current == latest_version() {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        if i as i64 + 1 >= PLACES_VERSION {
            super::records::backfill_places(&tx)?;
        }
        if i as i64 + 1 == BUCKETS_VERSION {
            super::records::backfill_buckets(&tx)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Turns SQLite's "not a database" into a clear [`StorageError::Corrupt`].
fn classify(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            StorageError::Corrupt(format!("not a gridwork server database: {e}"))
        }
        _ => StorageError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_is_in_wal_at_the_latest_version() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("s.db")).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let pages: u32 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pages, WAL_CHECKPOINT_PAGES);
        assert!(!has_index(&conn, "ops_by_scope"), "the log's unread index");
    }

    fn has_index(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            > 0
    }

    /// The pull's bucket scan binds its `LIMIT`: run again and again with other limits, on the
    /// writer and on a reader, it is planned once (SQLite would otherwise parse it anew on every
    /// bind of the limit, see [`keep_plans`]).
    #[test]
    fn a_statement_with_a_bound_limit_is_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let writer = open_writer(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        for conn in [&writer, &reader] {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq FROM op_buckets WHERE bucket = ?1 AND seq > ?2 AND seq <= ?3
                     ORDER BY seq LIMIT ?4",
                )
                .unwrap();
            for limit in 1..=5_i64 {
                let rows: Vec<i64> = stmt
                    .query_map(
                        rusqlite::params![b"grid".as_slice(), 0, i64::MAX, limit],
                        |r| r.get(0),
                    )
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(rows.is_empty());
            }
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "the statement was parsed again for a new limit"
            );
        }
    }

    #[test]
    fn an_older_database_learns_which_crews_its_buildings_alarms_went_to() {
        use gridwork_domain::merge::RecordState;
        use gridwork_domain::op::EntityKind;
        use gridwork_domain::workflow::{CaseAction, CaseEvent};
        use serde_json::json;
        use uuid::Uuid;

        use crate::storage::sqlite::records;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = open_writer(&path).unwrap();
        let (assigned, sent) = (Uuid::now_v7(), Uuid::now_v7());
        let record = |kind, fields: serde_json::Value| {
            let mut r = RecordState::new(kind, Uuid::now_v7());
            r.fields = fields.as_object().cloned().unwrap();
            r
        };
        let grid = record(EntityKind::Area, json!({ "parent_id": null }));
        let building = record(
            EntityKind::Building,
            json!({ "grid_id": grid.id, "station_id": assigned }),
        );
        let alarm = record(
            EntityKind::Case,
            json!({ "kind": "alarm", "area_id": grid.id, "building_id": building.id }),
        );
        for (seq, state) in [&grid, &building, &alarm].into_iter().enumerate() {
            let place = records::compute_place(&conn, state).unwrap();
            records::save(&conn, state, &place, seq as u64 + 1).unwrap();
        }
        let dispatch = CaseEvent {
            id: Uuid::now_v7(),
            case_id: alarm.id,
            stamp: gridwork_domain::hlc::Stamp::new(
                gridwork_domain::hlc::Hlc::new(1_795_000_000_000, 0),
                Uuid::now_v7(),
            ),
            actor: None,
            action: CaseAction::Dispatch { station_id: sent },
        };
        conn.execute(
            "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES (?1, ?2, 1, ?3, 4)",
            rusqlite::params![
                dispatch.id.to_string(),
                alarm.id.to_string(),
                serde_json::to_string(&dispatch).unwrap()
            ],
        )
        .unwrap();
        let place = records::compute_place(&conn, &alarm).unwrap();
        records::set_place(&conn, alarm.id, &place).unwrap();
        // As a server of version 2 left it: the building's place without its responders, no
        // index of cases by parent, no scope buckets.
        let mut old = records::load_place(&conn, building.id).unwrap().unwrap();
        old.responders.clear();
        records::set_place(&conn, building.id, &old).unwrap();
        conn.execute_batch(
            "DROP INDEX records_cases_by_parent;
             DROP TABLE op_buckets;
             DROP TABLE record_buckets;
             DROP TABLE accounts_version;
             DROP TABLE scope_entries;
             DROP TABLE service_accounts;
             DROP TABLE intake_orders;
             DROP TABLE callback_cursor;
             DROP TABLE callbacks;
             DROP TABLE audit_log;
             DROP TABLE console_sessions;
             DROP TABLE console_passwords;
             DROP TABLE device_status;
             DROP TABLE blob_refs;
             DROP TABLE upload_quota;
             DROP TABLE record_blob_refs;
             DROP INDEX records_building_by_address_code;
             CREATE INDEX ops_by_scope ON ops (scope_key, seq);",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        drop(conn);

        let conn = open_writer(&path).unwrap();
        assert!(!has_index(&conn, "ops_by_scope"), "kept by the upgrade");
        let place = records::load_place(&conn, building.id).unwrap().unwrap();
        assert_eq!(place.responders, vec![sent]);
        assert_eq!(place.station, Some(assigned));
        assert!(place.is_resolved());
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        open_writer(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(
            matches!(err, StorageError::NewerSchema { found: 99, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt(_)), "{err:?}");
    }
}
