//! The bootstrap's own write path (ADR 0037): a new phone takes a whole scope (a subdistrict is
//! some 365,000 records) in one long write, page after page of records in key order.
//!
//! While a bootstrap runs ([`begin`] to [`finish`], kept in `meta` so that a bootstrap cut off
//! and resumed in a later run goes on the same way):
//!
//! - a record the store does not hold yet is inserted at once ([`crate::store::records::insert_new`]):
//!   no lookup first, no merge with an empty state read back, and no search mark;
//! - the records it creates are indexed for search once, at [`finish`], in one pass over them,
//!   instead of each being marked in `search_stale` and re-indexed in batches (ADR 0018): every
//!   record created from the row id [`BULK_FROM_RID`] on is new, so the pass needs no marks;
//! - records the store already held (made on the phone before the bootstrap, or sent twice)
//!   are merged and marked as every write is;
//! - the checkpointer is tuned for one long write (`Checkpointer::set_bulk`, set by the sync
//!   engine around the bootstrap).
//!
//! Searches during a bootstrap find what the store held before it and what was edited on the
//! phone since; the records it brings are found from its end on.

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::store::{meta, search_index};

/// The first row id of the records a bootstrap in progress created (absent when none runs).
pub const BULK_FROM_RID: &str = "bulk_from_rid";

/// Starts the bootstrap's write path (inside the transaction of its first page), unless a
/// bootstrap cut off earlier left it on. Returns the first row id it covers.
pub fn begin(conn: &Connection) -> Result<i64> {
    if let Some(from) = from_rid(conn)? {
        return Ok(from);
    }
    let from: i64 = conn
        .prepare_cached("SELECT coalesce(max(rid), 0) + 1 FROM records")?
        .query_row([], |r| r.get(0))?;
    meta::set(conn, BULK_FROM_RID, &from.to_string())?;
    Ok(from)
}

/// The first row id of the bootstrap in progress, `None` when none runs.
pub fn from_rid(conn: &Connection) -> Result<Option<i64>> {
    Ok(meta::get(conn, BULK_FROM_RID)?.and_then(|v| v.parse().ok()))
}

/// Ends the bootstrap's write path (inside the transaction of its last page): indexes for
/// search every record created since [`begin`] in one pass, then whatever else is marked.
/// Returns the records indexed. Does nothing when no bootstrap runs.
pub fn finish(conn: &Connection) -> Result<usize> {
    let Some(from) = from_rid(conn)? else {
        return Ok(0);
    };
    // A search during the bootstrap may have indexed records it created (edited on the phone
    // meanwhile, so marked): their rows go, and are made again with the others.
    conn.prepare_cached("DELETE FROM search WHERE rowid >= ?1")?
        .execute([from])?;
    conn.prepare_cached("DELETE FROM search_stale WHERE rid >= ?1")?
        .execute([from])?;
    // FTS5 keeps the terms of the rows inserted in memory until they exceed its hash size (1 MB
    // by default), then writes them as a segment and merges segments as they pile up: a larger
    // hash for this one pass writes a few large segments instead of hundreds of small ones.
    set_fts_hash_size(conn, FINISH_HASH_BYTES)?;
    // In row id order, and only over the rows the bootstrap created: FTS5 also writes out its
    // pending terms whenever a row id comes below the last one inserted. Through the view alone
    // SQLite walks `records_by_parent` kind by kind (`kind IN (…)`), every record of a searched
    // kind in parent order, so nearly every row forced a write and the pass spent most of its
    // time merging tiny segments (the bootstrap's slowdown after ADR 0047, ADR 0049). `NOT
    // INDEXED` keeps the records as the outer loop, read by row id range.
    let indexed = conn.prepare_cached(INDEX_CREATED)?.execute([from])?;
    set_fts_hash_size(conn, FTS_DEFAULT_HASH_BYTES)?;
    let marked = search_index::catch_up(conn)?;
    meta::delete(conn, BULK_FROM_RID)?;
    Ok(indexed + marked)
}

/// [`finish`]'s one pass: every searchable record from the row id `?1` on, in row id order.
const INDEX_CREATED: &str = "INSERT INTO search (rowid, record_id, kind, text)
    SELECT s.rid, s.id, s.kind, s.text
    FROM records r NOT INDEXED CROSS JOIN search_source s ON s.rid = r.rid
    WHERE r.rid >= ?1";

/// The memory FTS5 may hold for the terms of the rows not yet written while [`finish`] indexes
/// a bootstrap's records (16 MB; a subdistrict's phone peaks well under its 150 MB budget).
pub const FINISH_HASH_BYTES: i64 = 16 << 20;

/// FTS5's own default for the same (restored once [`finish`] has indexed).
pub const FTS_DEFAULT_HASH_BYTES: i64 = 1 << 20;

/// Sets FTS5's `hashsize` for the `search` table (stored in its `search_config`).
fn set_fts_hash_size(conn: &Connection, bytes: i64) -> Result<()> {
    conn.prepare_cached("INSERT INTO search (search, rank) VALUES ('hashsize', ?1)")?
        .execute([bytes])?;
    Ok(())
}

/// Whether a bootstrap's write path is on (cheap: one `meta` lookup).
pub fn is_on(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM meta WHERE key = ?1")?
        .query_row([BULK_FROM_RID], |_| Ok(()))
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::open_in_memory;

    fn put(conn: &Connection, id: &str, kind: &str, parent: &str, name: &str) -> i64 {
        conn.query_row(
            "INSERT INTO records (id, kind, fields, stamps, updated_hlc, parent)
             VALUES (?1, ?2, json_object('name', ?4, 'building_id', ?3), '{}', 1, ?3)
             RETURNING rid",
            (id, kind, parent, name),
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn the_end_of_a_bootstrap_reads_its_records_by_row_id_not_by_kind_and_parent() {
        // Through `records_by_parent` the rows came kind by kind in parent order: FTS5 wrote
        // its pending terms out at every row id lower than the last (ADR 0049).
        let conn = open_in_memory().unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {INDEX_CREATED}"))
            .unwrap()
            .query_map([1], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(
            plan.contains("SEARCH r USING INTEGER PRIMARY KEY (rowid>?)"),
            "{plan}"
        );
        assert!(!plan.contains("records_by_parent"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn the_end_of_a_bootstrap_indexes_what_it_created_and_puts_the_fts_settings_back() {
        let conn = open_in_memory().unwrap();
        let before = put(&conn, "r0", "household", "b9", "梅花碑社区0户");
        conn.execute("INSERT INTO search_stale (rid) VALUES (?1)", [before])
            .unwrap();
        let from = begin(&conn).unwrap();
        assert_eq!(from, before + 1);
        // Parents in the reverse order of the row ids, as a (kind, parent) walk would not give.
        for i in 1..=300 {
            put(
                &conn,
                &format!("r{i}"),
                if i % 3 == 0 { "resident" } else { "household" },
                &format!("b{:03}", 300 - i),
                &format!("梅花碑社区{i}户"),
            );
        }
        assert!(is_on(&conn).unwrap());
        let indexed = finish(&conn).unwrap();
        assert_eq!(indexed, 301, "the 300 created, and the one marked before");
        assert!(!is_on(&conn).unwrap());
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM search"), 301);
        assert_eq!(count("SELECT count(*) FROM search_stale"), 0);
        assert_eq!(
            count("SELECT count(*) FROM search WHERE text MATCH '\"社区157户\"'"),
            1
        );
        assert_eq!(
            count("SELECT v FROM search_config WHERE k = 'hashsize'"),
            FTS_DEFAULT_HASH_BYTES
        );
        conn.execute_batch("INSERT INTO search (search) VALUES ('integrity-check')")
            .unwrap();
    }
}
