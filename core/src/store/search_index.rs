//! The search index's rows (ADR 0005): which fields feed a record's searchable text, and
//! refreshing a record's row in the same transaction as the record.
//!
//! The SQL view `search_source` is the one definition of the text; [`SEARCHED_FIELDS`] names
//! the fields it reads, so a write that changes none of them (a household's kind, a case's
//! severity, a resident's visit date) leaves the row alone instead of deleting and
//! re-tokenizing it. A test checks that the list and the view agree.

use rusqlite::Connection;

use crate::error::Result;

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

/// What a save did to a record's searchable text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchRow {
    /// The record is new: its row is added.
    New,
    /// A searched field or the tombstone may have changed: the row is replaced.
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

/// Brings the search row of the record `rid` up to date.
pub fn refresh(conn: &Connection, rid: i64, row: SearchRow) -> Result<()> {
    if row == SearchRow::Unchanged {
        return Ok(());
    }
    if row == SearchRow::Changed {
        conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
            .execute([rid])?;
    }
    conn.prepare_cached(
        "INSERT INTO search (rowid, record_id, kind, text)
         SELECT rid, id, kind, text FROM search_source WHERE rid = ?1",
    )?
    .execute([rid])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::open_in_memory;

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
