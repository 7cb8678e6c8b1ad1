//! Which kinds of record a transaction changed, so an app re-queries only the screens they
//! show (ADR 0028).
//!
//! The writer's connection has a temporary table and temporary triggers on `records`,
//! `case_folds` and `case_events` (a case's fold row is written only when it changes, ADR 0047):
//! every row written or deleted notes its kind, once (no unique constraint: the
//! conflict policy of the statement that fired a trigger overrides the trigger's own, so an
//! `OR IGNORE` there would fail an upsert). A trigger's `WHEN` clause asks whether the kind is
//! noted and its body inserts plain values: an `INSERT … SELECT … WHERE NOT EXISTS` reading the
//! table it inserts into made SQLite open a temporary b-tree for every row written (ADR 0049).
//! The table lives in the writer's own temporary database (memory), so readers never see it and
//! the file never holds it; it is transactional, so a transaction rolled back notes nothing.
//! [`drain`] reads and empties it at the end of each transaction, before the commit.

use gridwork_domain::op::EntityKind;
use rusqlite::Connection;

use crate::error::Result;

/// Sets up the note-taking on the writer's connection (once, after migrations).
pub fn watch(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS changed_kinds (kind TEXT NOT NULL);
         CREATE TEMP TRIGGER IF NOT EXISTS changed_record_in AFTER INSERT ON main.records
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = new.kind)
         BEGIN INSERT INTO changed_kinds (kind) VALUES (new.kind); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_record_up AFTER UPDATE ON main.records
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = new.kind)
         BEGIN INSERT INTO changed_kinds (kind) VALUES (new.kind); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_record_out AFTER DELETE ON main.records
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = old.kind)
         BEGIN INSERT INTO changed_kinds (kind) VALUES (old.kind); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_fold_in AFTER INSERT ON main.case_folds
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = 'case')
         BEGIN INSERT INTO changed_kinds (kind) VALUES ('case'); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_fold_up AFTER UPDATE ON main.case_folds
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = 'case')
         BEGIN INSERT INTO changed_kinds (kind) VALUES ('case'); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_event_in AFTER INSERT ON main.case_events
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = 'case')
         BEGIN INSERT INTO changed_kinds (kind) VALUES ('case'); END;
         CREATE TEMP TRIGGER IF NOT EXISTS changed_event_up AFTER UPDATE ON main.case_events
         WHEN NOT EXISTS (SELECT 1 FROM temp.changed_kinds WHERE kind = 'case')
         BEGIN INSERT INTO changed_kinds (kind) VALUES ('case'); END;",
    )?;
    Ok(())
}

/// The kinds changed since the last drain, in a fixed order; empties the list.
pub fn drain(conn: &Connection) -> Result<Vec<EntityKind>> {
    let mut stmt = conn.prepare_cached("SELECT kind FROM temp.changed_kinds")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    conn.prepare_cached("DELETE FROM temp.changed_kinds")?
        .execute([])?;
    let mut kinds: Vec<EntityKind> = names.iter().filter_map(|n| EntityKind::parse(n)).collect();
    kinds.sort_by_key(|k| k.as_str());
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_write_notes_its_kind_and_a_rolled_back_one_nothing() {
        let conn = crate::store::open::open_in_memory().unwrap();
        watch(&conn).unwrap();
        let insert = |id: &str, kind: &str| {
            conn.execute(
                "INSERT INTO records (id, kind, fields, stamps, updated_hlc)
                 VALUES (?1, ?2, '{}', '{}', 1)",
                [id, kind],
            )
            .unwrap();
        };
        insert("a", "resident");
        insert("b", "household");
        insert("c", "resident");
        assert_eq!(
            drain(&conn).unwrap(),
            vec![EntityKind::Household, EntityKind::Resident]
        );
        assert!(drain(&conn).unwrap().is_empty(), "drained");

        conn.execute_batch("BEGIN").unwrap();
        insert("d", "building");
        conn.execute_batch("ROLLBACK").unwrap();
        assert!(drain(&conn).unwrap().is_empty(), "rolled back");

        conn.execute("DELETE FROM records WHERE id = 'b'", [])
            .unwrap();
        assert_eq!(drain(&conn).unwrap(), vec![EntityKind::Household]);
    }
}
