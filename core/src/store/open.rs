//! The one way to open a device database: pragmas in one place, migrations stepped by
//! `PRAGMA user_version` inside one immediate transaction, a newer schema refused.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};
use crate::store::health::{self, FileKind};
use crate::store::key::{PageMac, StoreKey};
use crate::store::meta;

/// The numbered migrations, in order; migration `i` (1-based) brings `user_version` to `i`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_records_outbox",
        include_str!("../../migrations/001_records_outbox.sql"),
    ),
    (
        "002_search",
        include_str!("../../migrations/002_search.sql"),
    ),
    (
        "003_search_catch_up",
        include_str!("../../migrations/003_search_catch_up.sql"),
    ),
    (
        "004_access_facts",
        include_str!("../../migrations/004_access_facts.sql"),
    ),
    (
        "005_fewer_pages",
        include_str!("../../migrations/005_fewer_pages.sql"),
    ),
    (
        "006_attachments",
        include_str!("../../migrations/006_attachments.sql"),
    ),
    (
        "007_fewer_index_pages",
        include_str!("../../migrations/007_fewer_index_pages.sql"),
    ),
    (
        "008_areas_by_level",
        include_str!("../../migrations/008_areas_by_level.sql"),
    ),
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Opens (creating if needed) the store at `path`, unlocking it with `key` when it is
/// encrypted (a new store is created encrypted when a key is given), checks that it is whole,
/// and brings its schema up to date.
///
/// The order matters: the files are inspected before SQLite touches them; the key is the first
/// statement on the connection; the structural check runs before any write.
pub fn open_database(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    open_checked(path, key).inspect_err(|e| tracing::warn!(error = %e, "store not opened"))
}

fn open_checked(path: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    let kind = health::inspect(path)?;
    let conn = match open_unlocked(path, key, kind) {
        // A store made before ADR 0056 authenticates its pages with HMAC-SHA512: its key
        // fails under HMAC-SHA256, and the store is opened as it is (its readers and
        // checkpointer learn it from the writer, [`opened_key`]). A failed attempt reads the
        // first page and changes no file ([`open_unlocked`]).
        // (`WrongKey` comes only with a key, for a file that is not new and not plain.)
        Err(Error::WrongKey) => {
            let legacy = key.map(|k| k.with_page_mac(PageMac::Sha512));
            open_unlocked(path, legacy.as_ref(), kind)?
        }
        opened => opened?,
    };
    let started = std::time::Instant::now();
    if kind != FileKind::New {
        health::quick_check(&conn)?;
    }
    let check_ms = started.elapsed().as_millis() as u64;
    let conn = prepare(conn, latest_version())?;
    if key.is_some() {
        record_cipher(&conn)?;
    }
    tracing::debug!(
        encrypted = key.is_some(),
        new = kind == FileKind::New,
        schema = latest_version(),
        check_ms,
        "store opened"
    );
    Ok(conn)
}

/// Opens a private in-memory store (tests, tools).
pub fn open_in_memory() -> Result<Connection> {
    prepare(Connection::open_in_memory()?, latest_version())
}

/// Applies the pragmas and runs migrations up to `target` (tests pass an older target to make
/// a database of an older version).
pub fn prepare(conn: Connection, target: i64) -> Result<Connection> {
    apply_pragmas(&conn)?;
    migrate(&conn, target)?;
    Ok(conn)
}

/// A connection to the store at `path`, unlocked with `key` (see [`unlock`]).
///
/// Until the key has read the store, closing the connection must not checkpoint: SQLite would
/// fold a log left by a crash into the store file and delete it, so a refused open (a wrong
/// key, or the first of a store made before ADR 0056's two attempts) would change the files.
fn open_unlocked(path: &Path, key: Option<&StoreKey>, kind: FileKind) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    unlock(&conn, key, kind)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)?;
    Ok(conn)
}

/// The key as `conn` (a store's writer, from [`open_database`]) unlocked the store: with the
/// page MAC the store turned out to have, for the store's other connections (readers, the
/// checkpointer).
pub(crate) fn opened_key(conn: &Connection, key: &StoreKey) -> Result<StoreKey> {
    let name: String = conn.query_row("PRAGMA cipher_hmac_algorithm", [], |r| r.get(0))?;
    let mac = [PageMac::Sha256, PageMac::Sha512]
        .into_iter()
        .find(|m| m.sqlcipher_name().eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            Error::StoreDamaged(format!(
                "its pages are authenticated with {name}, unknown here"
            ))
        })?;
    Ok(key.with_page_mac(mac))
}

/// Gives SQLCipher the key (first, before anything reads the file), pins the cipher settings
/// and proves the file can be read, turning SQLite's "file is not a database" into the typed
/// error that says what to do.
fn unlock(conn: &Connection, key: Option<&StoreKey>, kind: FileKind) -> Result<()> {
    if let Some(key) = key {
        apply_key(conn, key)?;
    }
    let readable = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    });
    match readable {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(match (key, kind) {
                (Some(_), FileKind::Plain) => Error::NotEncrypted,
                (Some(_), _) => Error::WrongKey,
                (None, FileKind::Opaque) => Error::KeyRequired,
                (None, _) => Error::StoreDamaged("its first page is not a database page".into()),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Gives SQLCipher the key and pins its settings: the first statements on every connection to
/// an encrypted store (the writer, the checkpointer's, recovery's).
pub(crate) fn apply_key(conn: &Connection, key: &StoreKey) -> Result<()> {
    conn.execute_batch(&key.pragma())?;
    // SQLCipher 4's settings, pinned so that a later SQLCipher with other defaults still
    // reads the stores made now (see docs/adr: encryption at rest), with the page MAC of
    // ADR 0056: HMAC-SHA256 (SHA-512 for the stores made before it).
    conn.execute_batch(&format!(
        "PRAGMA cipher_compatibility = 4; PRAGMA cipher_hmac_algorithm = {};",
        key.page_mac().sqlcipher_name()
    ))?;
    Ok(())
}

/// What protects the store, kept in its metadata so that a later version knows how to open it.
pub const CIPHER_META: &str = "cipher";

/// Records the cipher, its version and settings (once, or when they change).
fn record_cipher(conn: &Connection) -> Result<()> {
    let pragma = |name: &str| -> Result<String> {
        Ok(conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, String>(0))
            .unwrap_or_default())
    };
    let settings = serde_json::json!({
        "cipher": "sqlcipher",
        "version": pragma("cipher_version")?,
        "provider": pragma("cipher_provider")?,
        "compatibility": 4,
        "page_mac": pragma("cipher_hmac_algorithm")?,
        "key": "raw 256-bit",
        "page_size": health::CIPHER_PAGE_SIZE,
    })
    .to_string();
    if meta::get(conn, CIPHER_META)?.as_deref() != Some(settings.as_str()) {
        meta::set(conn, CIPHER_META, &settings)?;
    }
    Ok(())
}

/// Every pragma the store relies on, in one place.
fn apply_pragmas(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL: readers never block the writer, and a commit is one append (fast, crash-safe).
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(Error::Sqlite(rusqlite::Error::InvalidQuery));
    }
    // The log is cut back to `journal_size_limit` each time it starts over. Cutting a log that
    // a burst of writes grew to 16 MB back to 4 MB took the edit that did it 6 ms; at 20 MB the
    // log's usual high-water mark under the checkpointer (ADR 0018) is kept and only a log
    // grown past it is cut.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = 20971520;
         PRAGMA cache_size = -32000;",
    )?;
    Ok(())
}

/// Steps `user_version` from its current value to `target`, all in one immediate transaction,
/// so a crash mid-upgrade leaves the old schema intact.
fn migrate(conn: &Connection, target: i64) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest_version() {
        return Err(Error::NewerSchema {
            found: current,
            supported: latest_version(),
        });
    }
    if current >= target {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    for (i, (_name, sql)) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(current as usize)
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_fresh_store_gets_every_migration_and_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_database(&dir.path().join("g.db"), None).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let temp: i64 = conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(temp, 2, "temp_store = MEMORY");
        let limit: i64 = conn
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, 20_971_520);
    }

    #[test]
    fn queued_operations_survive_the_outbox_rebuild_of_version_3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let old = prepare(Connection::open(&path).unwrap(), 2).unwrap();
            old.execute_batch(
                "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms)
                     VALUES ('o1', 'e1', 5, '{}', 1), ('o2', 'e2', 6, '{}', 2);
                 UPDATE outbox SET status = 'rejected', reason = 'r' WHERE op_id = 'o2';",
            )
            .unwrap();
        }
        let conn = open_database(&path, None).unwrap();
        let rows: Vec<(i64, String, String, Option<String>)> = conn
            .prepare("SELECT seq, op_id, status, reason FROM outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "o1".into(), "pending".into(), None),
                (2, "o2".into(), "rejected".into(), Some("r".into()))
            ]
        );
        // A new operation comes after them, and no longer writes sqlite_sequence.
        conn.execute(
            "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms)
             VALUES ('o3', 'e3', 7, '{}', 3)",
            [],
        )
        .unwrap();
        let seq: i64 = conn
            .query_row("SELECT seq FROM outbox WHERE op_id = 'o3'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(seq, 3);
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    }

    #[test]
    fn a_version_4_phone_keeps_its_queue_folds_and_clock_through_version_5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let old = prepare(Connection::open(&path).unwrap(), 4).unwrap();
            old.execute_batch(
                "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms)
                     VALUES ('o1', 'e1', 5, '{}', 1), ('o2', 'e1', 9, '{}', 2);
                 UPDATE outbox SET status = 'rejected', reason = 'r' WHERE op_id = 'o2';
                 INSERT INTO case_folds (case_id, state, closed, fold)
                     VALUES ('c1', 'open', 0, '{}'), ('c2', 'closed', 1, '{}');
                 INSERT INTO meta (key, value) VALUES ('hlc_last', '12');",
            )
            .unwrap();
        }
        let conn = open_database(&path, None).unwrap();
        let rows: Vec<(i64, String, String, i64, String)> = conn
            .prepare("SELECT seq, op_id, entity_id, hlc, status FROM outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "o1".into(), "e1".into(), 5, "pending".into()),
                (2, "o2".into(), "e1".into(), 9, "rejected".into())
            ]
        );
        let open: Vec<String> = conn
            .prepare("SELECT case_id FROM case_folds WHERE closed = 0")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(open, ["c1"]);
        assert_eq!(
            meta::get(&conn, meta::HLC_LAST).unwrap().as_deref(),
            Some("12")
        );
        // The outbox and the folds are one b-tree each now.
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index'
                 AND tbl_name IN ('outbox', 'case_folds')",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(indexes, Vec::<String>::new());
        // The server's answer to a push still finds its operations, and a removed row that
        // held the clock's highest stamp leaves it in `meta`.
        let highest =
            crate::store::outbox::mark_accepted(&conn, &[gridwork_domain::ids::Id::nil()]).unwrap();
        assert_eq!(highest, None);
        crate::store::outbox::remove(&conn, 2).unwrap();
        assert_eq!(
            meta::get(&conn, meta::HLC_LAST).unwrap().as_deref(),
            Some("12")
        );
        conn.execute("UPDATE outbox SET hlc = 40 WHERE seq = 1", [])
            .unwrap();
        crate::store::outbox::remove(&conn, 1).unwrap();
        assert_eq!(
            meta::get(&conn, meta::HLC_LAST).unwrap().as_deref(),
            Some("40")
        );
    }

    #[test]
    fn an_old_database_upgraded_equals_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old.db");
        {
            let old = prepare(Connection::open(&old_path).unwrap(), 1).unwrap();
            let v: i64 = old
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 1);
            old.execute(
                "INSERT INTO records (id, kind, fields, stamps, updated_hlc) \
                 VALUES ('b1', 'building', '{\"address\":\"梅花碑社区3幢\",\"grid_id\":\"g1\"}', '{}', 1)",
                [],
            )
            .unwrap();
        }
        let upgraded = open_database(&old_path, None).unwrap();
        let fresh = open_database(&dir.path().join("fresh.db"), None).unwrap();
        assert_eq!(schema(&upgraded), schema(&fresh));
        // The data written under version 1 is there and indexed by version 2.
        let hits: i64 = upgraded
            .query_row(
                "SELECT count(*) FROM search WHERE text MATCH '梅花碑'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hits, 1);
        // Version 7 took the building's parent out of its fields.
        let parent: String = upgraded
            .query_row("SELECT parent FROM records WHERE id = 'b1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(parent, "g1");
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
    }

    #[test]
    fn every_list_reads_an_index_after_the_parent_became_a_column() {
        // Version 7 (ADR 0047): one index on (kind, parent) serves the lists by parent and the
        // lists by kind; none is a scan of the whole table.
        let conn = open_in_memory().unwrap();
        for (sql, wanted) in [
            (
                "SELECT id FROM records WHERE kind = 'station' AND tombstone IS NULL",
                "USING INDEX records_by_parent (kind=?)",
            ),
            (
                "SELECT id, fields FROM records WHERE kind = 'household' AND tombstone IS NULL
                 AND parent = 'b1' ORDER BY json_extract(fields, '$.unit')",
                "USING INDEX records_by_parent (kind=? AND parent=?)",
            ),
            (
                "SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
                 AND parent IS NULL",
                "USING INDEX records_by_parent (kind=? AND parent=?)",
            ),
            (
                "SELECT id FROM records WHERE kind = 'case'
                 AND json_extract(fields, '$.building_id') = 'b1'
                 AND json_extract(fields, '$.kind') = 'alarm'",
                "USING INDEX records_by_parent (kind=?)",
            ),
            (
                "WITH RECURSIVE subtree(id) AS (
                    SELECT 'a1' UNION
                    SELECT r.id FROM records r JOIN subtree s ON r.parent = s.id
                    WHERE r.kind = 'area' AND r.tombstone IS NULL)
                 SELECT r.id, r.fields, f.fold FROM records r
                 LEFT JOIN case_folds f ON f.case_id = r.id
                 WHERE r.kind = 'case' AND r.tombstone IS NULL AND f.closed IS NOT 1
                 AND r.parent IN subtree",
                "USING INDEX records_by_parent (kind=? AND parent=?)",
            ),
            (
                "SELECT id FROM records INDEXED BY registrations_by_household
                 WHERE kind = 'registration' AND tombstone IS NULL
                 AND json_extract(fields, '$.household_id') IN ('h1', 'h2')",
                "USING INDEX registrations_by_household",
            ),
        ] {
            let p = plan(&conn, sql);
            assert!(p.contains(wanted), "{sql}\n planned as {p}");
            assert!(
                !p.contains("SCAN r;")
                    && !p.ends_with("SCAN r")
                    && !p.contains("SCAN records;")
                    && !p.ends_with("SCAN records"),
                "{sql}\n planned as {p}"
            );
        }
    }

    #[test]
    fn the_parent_column_is_the_field_each_kind_lists_by() {
        let conn = open_in_memory().unwrap();
        for kind in gridwork_domain::op::EntityKind::ALL {
            let fields = r#"{"parent_id":"p","grid_id":"g","building_id":"b","household_id":"h",
                "resident_id":"r","area_id":"a","patrol_id":"t"}"#;
            let state = gridwork_domain::merge::RecordState {
                kind,
                id: crate::new_id(),
                fields: serde_json::from_str(fields).unwrap(),
                stamps: Default::default(),
                tombstone: None,
            };
            crate::store::records::save(&conn, &state).unwrap();
            // What migration 007 computes for a stored record, and what the write path stored.
            let (stored, migrated): (Option<String>, Option<String>) = conn
                .query_row(
                    "SELECT parent, json_extract(fields, CASE kind
                        WHEN 'area' THEN '$.parent_id' WHEN 'building' THEN '$.grid_id'
                        WHEN 'household' THEN '$.building_id'
                        WHEN 'resident' THEN '$.household_id'
                        WHEN 'registration' THEN '$.resident_id' WHEN 'case' THEN '$.area_id'
                        WHEN 'patrol_visit' THEN '$.patrol_id' END)
                     FROM records WHERE id = ?1",
                    [state.id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(stored, migrated, "{kind:?}");
            assert_eq!(
                stored.is_some(),
                crate::store::records::parent_path(kind).is_some(),
                "{kind:?}"
            );
        }
        // A household moved to another building: the column follows, by either write path.
        let parent_of = |id: &str| -> String {
            conn.query_row("SELECT parent FROM records WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let mut moved = gridwork_domain::merge::RecordState::new(
            gridwork_domain::op::EntityKind::Household,
            crate::new_id(),
        );
        moved.fields.insert("building_id".into(), "b1".into());
        crate::store::records::save(&conn, &moved).unwrap();
        assert_eq!(parent_of(&moved.id.to_string()), "b1");
        moved.fields.insert("building_id".into(), "b2".into());
        crate::store::records::save(&conn, &moved).unwrap();
        assert_eq!(parent_of(&moved.id.to_string()), "b2");
        let (rid, _) = crate::store::records::load_held(&conn, moved.id)
            .unwrap()
            .unwrap();
        moved.fields.insert("building_id".into(), "b3".into());
        crate::store::records::save_held(
            &conn,
            Some(rid),
            &moved,
            crate::store::search_index::SearchRow::Unchanged,
        )
        .unwrap();
        assert_eq!(parent_of(&moved.id.to_string()), "b3");
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        {
            let c = open_database(&path, None).unwrap();
            c.pragma_update(None, "user_version", latest_version() + 1)
                .unwrap();
        }
        let err = open_database(&path, None).unwrap_err();
        assert!(matches!(err, Error::NewerSchema { .. }), "{err:?}");
        assert!(err.to_string().contains("update the app"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        // Whole pages of noise look like an encrypted store: a key is asked for.
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let err = open_database(&path, None).unwrap_err();
        assert!(matches!(err, Error::KeyRequired), "{err:?}");
        // Anything else is not a store.
        std::fs::write(&path, vec![0x5a; 5000]).unwrap();
        let err = open_database(&path, None).unwrap_err();
        assert!(matches!(err, Error::StoreDamaged(_)), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 5000]);
    }
}
