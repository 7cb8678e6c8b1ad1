//! The search index's rows (ADR 0005): which fields feed a record's searchable text, and
//! keeping the rows current.
//!
//! A write does not re-index its record: FTS5 writes a new index segment for every transaction
//! that touches it, and merges segments as they pile up, which made the search row more than
//! half the cost of a local edit. The write only marks the record in `search_stale` (same
//! transaction, so a crash loses no mark); [`catch_up`] re-indexes every marked record in one
//! go. It runs before every search, at the end of a sync run, and inside any write transaction
//! that finds [`LOCAL_CATCH_UP_AT`] or [`PULL_CATCH_UP_AT`] marks waiting (ADR 0018).
//!
//! A local edit writes no mark either (ADR 0047): its outbox row, written in the same
//! transaction, names the record. `meta`'s [`meta::SEARCH_OUTBOX_SEEN`] is the highest outbox
//! position the catch-up has taken in; every row after it counts as a mark. Rows leave the
//! outbox only through `outbox::mark_accepted` and `outbox::remove`, which first turn the rows
//! not yet taken in into marks ([`before_outbox_delete`]) and then move the position back to the
//! outbox's last row ([`after_outbox_delete`]): new rows are numbered after the last one held,
//! so they always come after the position.
//!
//! The SQL view `search_source` is the one definition of the text; [`SEARCHED_FIELDS`] names
//! the fields it reads, so a write that changes none of them (a household's kind, a case's
//! severity, a resident's visit date) leaves the row alone instead of deleting and
//! re-tokenizing it. A test checks that the list and the view agree.

use rusqlite::Connection;

use crate::error::Result;
use crate::store::meta;

/// Every field the `search_source` view reads (besides the kind and the tombstone).
pub const SEARCHED_FIELDS: [&str; 8] = [
    "name",
    "address",
    "address_code",
    "unit",
    "phone",
    "title",
    "category",
    "code",
];

/// Marks after which a local edit's transaction re-indexes them (weeks of a gridworker's edits
/// without a single search; the edit that crosses it pays for the batch, tens of ms).
pub const LOCAL_CATCH_UP_AT: i64 = 2_000;

/// Marks after which a pulled page's transaction re-indexes them (bulk work: the larger the
/// batch, the fewer index segments are written and merged).
pub const PULL_CATCH_UP_AT: i64 = 20_000;

/// What a save did to a record's searchable text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRow {
    /// The record is new, or a searched field or the tombstone may have changed: the record is
    /// marked for the next [`catch_up`].
    Changed,
    /// No searched field changed: the row stays as it is.
    Unchanged,
}

impl SearchRow {
    /// Whether writing these fields (and maybe a tombstone) changes the searchable text.
    pub fn after_writing<'a>(
        fields: impl IntoIterator<Item = &'a String>,
        deleted: bool,
    ) -> SearchRow {
        if deleted
            || fields
                .into_iter()
                .any(|f| SEARCHED_FIELDS.contains(&f.as_str()))
        {
            SearchRow::Changed
        } else {
            SearchRow::Unchanged
        }
    }
}

/// Notes that the search row of the record `rid` must be brought up to date (by the next
/// [`catch_up`]).
pub fn refresh(conn: &Connection, rid: i64, row: SearchRow) -> Result<()> {
    if row == SearchRow::Unchanged {
        return Ok(());
    }
    conn.prepare_cached("INSERT OR IGNORE INTO search_stale (rid) VALUES (?1)")?
        .execute([rid])?;
    Ok(())
}

/// How many records wait to be re-indexed: the marks, and the outbox rows after the position
/// the catch-up took in (the outbox's rows after it are numbered without gaps: none leaves
/// without the position moving, see the module's notes).
pub fn stale_count(conn: &Connection) -> Result<i64> {
    let marks: i64 = conn
        .prepare_cached("SELECT count(*) FROM search_stale")?
        .query_row([], |r| r.get(0))?;
    Ok(marks + (outbox_last(conn)? - outbox_seen(conn)?).max(0))
}

/// The outbox position the catch-up has taken in.
fn outbox_seen(conn: &Connection) -> Result<i64> {
    Ok(meta::get(conn, meta::SEARCH_OUTBOX_SEEN)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The outbox's last position (0 when it is empty).
fn outbox_last(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM outbox")?
        .query_row([], |r| r.get(0))?)
}

/// Marks the records of the outbox rows the catch-up has not taken in (call before deleting
/// outbox rows, then [`after_outbox_delete`]).
pub fn before_outbox_delete(conn: &Connection) -> Result<()> {
    let seen = outbox_seen(conn)?;
    if outbox_last(conn)? <= seen {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT OR IGNORE INTO search_stale (rid)
         SELECT r.rid FROM outbox o CROSS JOIN records r ON r.id = o.entity_id WHERE o.seq > ?1",
    )?
    .execute([seen])?;
    Ok(())
}

/// Moves the position the catch-up took in to the outbox's last row (every row up to it is
/// indexed or marked): the next row appended comes after it.
pub fn after_outbox_delete(conn: &Connection) -> Result<()> {
    let last = outbox_last(conn)?;
    if outbox_seen(conn)? != last {
        meta::set(conn, meta::SEARCH_OUTBOX_SEEN, &last.to_string())?;
    }
    Ok(())
}

/// Re-indexes every marked record (its row replaced, or removed when the record is gone,
/// deleted or of a kind that is not searched) and clears the marks; call inside a write
/// transaction. Returns the records re-indexed.
pub fn catch_up(conn: &Connection) -> Result<usize> {
    // The local edits since the last catch-up, from the outbox, become marks first.
    before_outbox_delete(conn)?;
    after_outbox_delete(conn)?;
    let rids: Vec<i64> = conn
        .prepare_cached("SELECT rid FROM search_stale")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rids.is_empty() {
        return Ok(0);
    }
    // The rows are read from the view first and inserted with plain values: SQLite's
    // `INSERT INTO search SELECT … FROM search_source WHERE rid = ?` took 33 µs a row against
    // 9 µs for the two steps (50,000 households, one transaction). `CROSS JOIN` keeps the marks
    // as the outer loop: with a plain join SQLite planned a scan of every record of a searched
    // kind, which made a subdistrict's bootstrap spend a quarter of its time here.
    let rows: Vec<(i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT s.rid, s.id, s.kind, s.text
             FROM search_stale t CROSS JOIN search_source s ON s.rid = t.rid",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut delete = conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?;
    for rid in &rids {
        delete.execute([rid])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO search (rowid, record_id, kind, text) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (rid, id, kind, text) in &rows {
        insert.execute(rusqlite::params![rid, id, kind, text])?;
    }
    conn.prepare_cached("DELETE FROM search_stale")?
        .execute([])?;
    Ok(rids.len())
}

/// [`catch_up`] in a transaction of its own, when any record waits (a connection outside a
/// transaction: before a search, at the end of a sync run).
pub fn catch_up_now(conn: &Connection) -> Result<usize> {
    if stale_count(conn)? == 0 {
        return Ok(0);
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let n = catch_up(&tx)?;
    tx.commit()?;
    Ok(n)
}

/// [`catch_up`] when at least `at` records wait.
pub fn catch_up_past(conn: &Connection, at: i64) -> Result<usize> {
    if stale_count(conn)? >= at {
        catch_up(conn)
    } else {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::open_in_memory;

    fn hits(conn: &Connection, text: &str) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM search WHERE text MATCH ?1",
            [format!("\"{text}\"")],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn put(conn: &Connection, id: &str, kind: &str, fields: &str, tombstone: Option<&str>) -> i64 {
        conn.query_row(
            "INSERT INTO records (id, kind, fields, stamps, tombstone, updated_hlc)
             VALUES (?1, ?2, ?3, '{}', ?4, 1)
             ON CONFLICT (id) DO UPDATE SET fields = excluded.fields,
                 tombstone = excluded.tombstone
             RETURNING rid",
            (id, kind, fields, tombstone),
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_write_only_marks_its_record_and_the_catch_up_indexes_every_mark_once() {
        let conn = open_in_memory().unwrap();
        let rid = put(
            &conn,
            "b1",
            "building",
            r#"{"address":"梅花碑社区3幢"}"#,
            None,
        );
        refresh(&conn, rid, SearchRow::Changed).unwrap();
        refresh(&conn, rid, SearchRow::Changed).unwrap();
        assert_eq!(stale_count(&conn).unwrap(), 1, "one mark per record");
        assert_eq!(hits(&conn, "梅花碑"), 0, "nothing indexed inside the write");

        assert_eq!(catch_up(&conn).unwrap(), 1);
        assert_eq!(stale_count(&conn).unwrap(), 0);
        assert_eq!(hits(&conn, "梅花碑"), 1);

        // A changed text replaces the row; an unchanged one leaves no mark.
        put(
            &conn,
            "b1",
            "building",
            r#"{"address":"阳明华庭2幢"}"#,
            None,
        );
        refresh(&conn, rid, SearchRow::Changed).unwrap();
        refresh(&conn, rid, SearchRow::Unchanged).unwrap();
        assert_eq!(catch_up(&conn).unwrap(), 1);
        assert_eq!(hits(&conn, "梅花碑"), 0);
        assert_eq!(hits(&conn, "阳明华"), 1);
        refresh(&conn, rid, SearchRow::Unchanged).unwrap();
        assert_eq!(stale_count(&conn).unwrap(), 0);

        // A deleted record's row goes at the next catch-up.
        put(
            &conn,
            "b1",
            "building",
            r#"{"address":"阳明华庭2幢"}"#,
            Some("{}"),
        );
        refresh(&conn, rid, SearchRow::Changed).unwrap();
        catch_up(&conn).unwrap();
        assert_eq!(hits(&conn, "阳明华"), 0);
    }

    #[test]
    fn the_catch_up_waits_for_its_threshold_and_runs_in_its_own_transaction_when_asked() {
        let conn = open_in_memory().unwrap();
        for i in 0..3 {
            let rid = put(
                &conn,
                &format!("h{i}"),
                "household",
                &format!(r#"{{"phone":"1390000000{i}"}}"#),
                None,
            );
            refresh(&conn, rid, SearchRow::Changed).unwrap();
        }
        assert_eq!(catch_up_past(&conn, 4).unwrap(), 0);
        assert_eq!(stale_count(&conn).unwrap(), 3);
        assert_eq!(catch_up_past(&conn, 3).unwrap(), 3);
        assert_eq!(hits(&conn, "13900000002"), 1);

        let rid = put(&conn, "h9", "household", r#"{"phone":"13900000009"}"#, None);
        refresh(&conn, rid, SearchRow::Changed).unwrap();
        assert_eq!(catch_up_now(&conn).unwrap(), 1);
        assert!(conn.is_autocommit(), "its transaction is committed");
        assert_eq!(catch_up_now(&conn).unwrap(), 0);
        assert_eq!(hits(&conn, "13900000009"), 1);
    }

    fn queue(conn: &Connection, op_id: &str, entity: &str) -> i64 {
        conn.query_row(
            "INSERT INTO outbox (op_id, entity_id, hlc, op, created_ms)
             VALUES (?1, ?2, 1, '{}', 0) RETURNING seq",
            (op_id, entity),
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_local_edit_is_found_through_its_outbox_row_even_once_pushed_before_the_catch_up() {
        let conn = open_in_memory().unwrap();
        let marks = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM search_stale", [], |r| r.get(0))
                .unwrap()
        };
        // Two local edits: records saved with no mark, their outbox rows naming them.
        put(&conn, "h1", "household", r#"{"phone":"13900000001"}"#, None);
        put(&conn, "h2", "household", r#"{"phone":"13900000002"}"#, None);
        let a = "00000000-0000-7000-8000-000000000001";
        queue(&conn, a, "h1");
        let second = queue(&conn, "00000000-0000-7000-8000-000000000002", "h2");
        assert_eq!(marks(&conn), 0, "a local edit writes no mark");
        assert_eq!(
            stale_count(&conn).unwrap(),
            2,
            "its outbox row counts as one"
        );

        // The server accepts the first and the second is replaced before any search: both
        // records are marked on the way out, nothing is lost.
        crate::store::outbox::mark_accepted(&conn, &[a.parse().unwrap()]).unwrap();
        crate::store::outbox::remove(&conn, second).unwrap();
        assert_eq!(marks(&conn), 2);
        assert_eq!(stale_count(&conn).unwrap(), 2);
        assert_eq!(catch_up(&conn).unwrap(), 2);
        assert_eq!(hits(&conn, "13900000001"), 1);
        assert_eq!(hits(&conn, "13900000002"), 1);
        assert_eq!(stale_count(&conn).unwrap(), 0);

        // The outbox emptied, so its numbering starts again at 1: a new edit still counts.
        put(&conn, "h1", "household", r#"{"phone":"13900000011"}"#, None);
        assert_eq!(
            queue(&conn, "00000000-0000-7000-8000-000000000003", "h1"),
            1
        );
        assert_eq!(stale_count(&conn).unwrap(), 1);
        assert_eq!(catch_up(&conn).unwrap(), 1);
        assert_eq!(hits(&conn, "13900000011"), 1);
        assert_eq!(hits(&conn, "13900000001"), 0);

        // A row taken in by a catch-up and still queued is not indexed again.
        assert_eq!(stale_count(&conn).unwrap(), 0);
        assert_eq!(catch_up(&conn).unwrap(), 0);
    }

    #[test]
    fn the_catch_up_reads_only_the_marked_records() {
        let conn = open_in_memory().unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT s.rid, s.id, s.kind, s.text
                 FROM search_stale t CROSS JOIN search_source s ON s.rid = t.rid",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            plan,
            [
                "SCAN t",
                "SEARCH records USING INTEGER PRIMARY KEY (rowid=?)"
            ],
            "the catch-up must walk the marks and look records up by rowid"
        );
    }

    #[test]
    fn the_list_of_searched_fields_is_the_views() {
        let conn = open_in_memory().unwrap();
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'search_source'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut in_view: Vec<&str> = sql
            .split("'$.")
            .skip(1)
            .filter_map(|rest| rest.split('\'').next())
            .collect();
        in_view.sort();
        let mut listed = SEARCHED_FIELDS.to_vec();
        listed.sort();
        assert_eq!(in_view, listed);
    }
}
