//! The device applying what the server sends: fuzzer bytes become a pull page or a snapshot
//! page (JSON as it comes off the wire, or operations built by `gridwork_fuzz::ops`), and the
//! device's real sync engine applies it to a fresh store through `wait_for_changes`.
//!
//! Whatever the page holds, it must never panic, and the store must stay consistent:
//! - a page that fails leaves the store exactly as it was (page and cursor in one transaction);
//! - a page applied twice changes nothing the second time (idempotence), including case folds;
//! - nothing received enters the outbox;
//! - SQLite's integrity check passes and the search index matches the records exactly.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use gridwork_core::{Gridwork, OpenOptions};
use gridwork_domain::sync::{PullResponse, SnapshotResponse};
use gridwork_fuzz::ops::{self, NOW_MS};
use gridwork_fuzz::replay::Replay;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    dir: tempfile::TempDir,
    /// A freshly migrated store, copied for every input (cheaper than migrating each time).
    template: PathBuf,
    runtime: tokio::runtime::Runtime,
}

fn options() -> OpenOptions {
    OpenOptions {
        clock: Arc::new(|| NOW_MS),
        ..OpenOptions::default()
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A RAM disk when there is one: the store is rewritten for every input.
        let dir = if Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm")
        } else {
            tempfile::tempdir()
        }
        .unwrap();
        let template = dir.path().join("template.db");
        drop(Gridwork::open_with(&template, options()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Fixture {
            dir,
            template,
            runtime,
        }
    })
}

/// What the device holds beyond the state digest: case folds (derived state that must follow
/// the events) and the conflicts kept for the user.
fn derived(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT coalesce(group_concat(case_id || state || closed || fold, '|'), '')
         FROM (SELECT * FROM case_folds ORDER BY case_id)",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// SQLite's own check, and the search index against its definition (`search_source`).
fn check_store(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let marks: i64 = conn
        .query_row("SELECT count(*) FROM search_stale", [], |r| r.get(0))
        .unwrap();
    assert_eq!(marks, 0, "records left marked after a catch-up");
    for (what, sql) in [
        (
            "records missing from the search index",
            "SELECT count(*) FROM (SELECT rid, record_id, kind, text FROM
               (SELECT rid, id AS record_id, kind, text FROM search_source)
             EXCEPT SELECT rowid, record_id, kind, text FROM search)",
        ),
        (
            "search rows of no (or a deleted) record",
            "SELECT count(*) FROM (SELECT rowid, record_id, kind, text FROM search
             EXCEPT SELECT rid, id, kind, text FROM search_source)",
        ),
    ] {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "{what}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (snapshot, pull) = match mode % 4 {
        0 => match serde_json::from_slice::<PullResponse>(rest) {
            Ok(page) => (None, Some(page)),
            Err(_) => return,
        },
        1 => match serde_json::from_slice::<SnapshotResponse>(rest) {
            Ok(page) => (Some(page), None),
            Err(_) => return,
        },
        _ => match ops::pull_page(&mut Unstructured::new(rest)) {
            Ok(page) => (None, Some(page)),
            Err(_) => return,
        },
    };

    let f = fixture();
    let path = f.dir.path().join("store.db");
    for extra in ["store.db-wal", "store.db-shm"] {
        let _ = std::fs::remove_file(f.dir.path().join(extra));
    }
    std::fs::copy(&f.template, &path).unwrap();
    let gw = Gridwork::open_with(&path, options()).unwrap();

    let before = (gw.state_digest().unwrap(), derived(&path));
    let first = f
        .runtime
        .block_on(gw.wait_for_changes(&Replay::new(snapshot, pull.clone()), 0));
    let after = (gw.state_digest().unwrap(), derived(&path));
    match &first {
        Err(e) => assert_eq!(before, after, "a page that failed ({e}) changed the store"),
        Ok(_) => {
            if let Some(page) = pull {
                let again = f
                    .runtime
                    .block_on(gw.wait_for_changes(&Replay::new(None, Some(page)), 0));
                if let Err(e) = again {
                    panic!("a page applied once fails the second time: {e}");
                }
                let twice = (gw.state_digest().unwrap(), derived(&path));
                assert_eq!(after, twice, "applying a page twice changed the store");
            }
        }
    }
    assert_eq!(
        gw.pending_count().unwrap(),
        0,
        "received operations entered the outbox"
    );
    // Search rows are indexed in batches (ADR 0018): bring them up to date, then check them
    // against their definition. Marks left unindexed would be a lost search row.
    gw.refresh_search().unwrap();
    drop(gw);
    check_store(&path);
});
