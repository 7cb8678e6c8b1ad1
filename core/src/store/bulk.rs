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
    let indexed = conn
        .prepare_cached(
            "INSERT INTO search (rowid, record_id, kind, text)
             SELECT rid, id, kind, text FROM search_source WHERE rid >= ?1",
        )?
        .execute([from])?;
    let marked = search_index::catch_up(conn)?;
    meta::delete(conn, BULK_FROM_RID)?;
    Ok(indexed + marked)
}

/// Whether a bootstrap's write path is on (cheap: one `meta` lookup).
pub fn is_on(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM meta WHERE key = ?1")?
        .query_row([BULK_FROM_RID], |_| Ok(()))
        .optional()?
        .is_some())
}
