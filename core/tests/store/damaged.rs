//! A damaged store: cut short at several offsets, pages overwritten, its write-ahead log
//! removed. Each is refused with [`Error::StoreDamaged`] (never opened as an empty store), and
//! recovery moves the files aside untouched, keeps every outbox operation SQLite can still
//! read (checked against row-by-row reads of the damaged file), exports them, and makes a fresh
//! store that holds them queued for the next sync.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gridwork_core::recovery::read_export;
use gridwork_core::{Error, Gridwork, OpenOptions, StoreKey, recover_store};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use rusqlite::Connection;

use crate::common::*;

/// A gridworker's offline morning: a grid, buildings, households and residents, all queued.
fn offline_morning(gw: &Gridwork, buildings: usize) {
    let grid = grid_with_buildings(gw, buildings);
    for (i, b) in grid.buildings.iter().enumerate() {
        let h = household(
            gw,
            b.id,
            &format!("{}-101", i + 1),
            HouseholdKind::OwnerOccupied,
        );
        resident(
            gw,
            h.id,
            "周敏",
            &id_number("19850101", (i % 900) as u16 + 1),
        );
    }
}

fn options(key: Option<&StoreKey>) -> OpenOptions {
    OpenOptions {
        key: key.cloned(),
        ..TestClock::at(MORNING_MS).options()
    }
}

/// Makes a store with `buildings` buildings' worth of queued work, closed cleanly (everything
/// in the store file); returns its path and the op ids of its outbox.
fn closed_store(dir: &Path, key: Option<&StoreKey>, buildings: usize) -> (PathBuf, Vec<Id>) {
    let db = dir.join("pristine.db");
    let gw = Gridwork::open_with(&db, options(key)).unwrap();
    offline_morning(&gw, buildings);
    (db, queued(&gw))
}

/// The ids of the operations in a store's outbox, oldest first.
fn queued(gw: &Gridwork) -> Vec<Id> {
    gw.pending_ops(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.op.id)
        .collect()
}

fn copy_store(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let src = format!("{}{suffix}", from.display());
        if Path::new(&src).exists() {
            std::fs::copy(&src, format!("{}{suffix}", to.display())).unwrap();
        }
    }
}

/// The op ids a row-by-row read of the damaged file still returns: the oracle that recovery's
/// own search (which does not know the row numbers) must match.
fn readable_op_ids(db: &Path, key: Option<&StoreKey>, count: usize) -> BTreeSet<Id> {
    let scratch = db.with_extension("oracle");
    copy_store(db, &scratch);
    let conn = match key {
        Some(k) => raw_open(&scratch, k),
        None => Connection::open(&scratch).unwrap(),
    };
    // As SQLite's own recovery does: read a file shorter than its header says.
    let _ = conn.execute_batch("PRAGMA writable_schema = ON");
    // Row numbers in the outbox run from 1 in a store that never synced.
    (1..=count as i64 + 5)
        .filter_map(|seq| {
            let r = conn.query_row("SELECT op FROM outbox WHERE seq = ?1", [seq], |r| {
                r.get::<_, String>(0)
            });
            r.ok()
        })
        .filter_map(|op| serde_json::from_str::<gridwork_domain::op::Op>(&op).ok())
        .map(|op| op.id)
        .collect()
}

/// Opens the damaged store (must be refused as damaged), recovers it, and checks the recovery:
/// files moved aside byte for byte, every readable operation kept in order, exported, queued.
fn refused_then_recovered(db: &Path, key: Option<&StoreKey>, all_ops: &[Id], case: &str) -> u64 {
    let readable = readable_op_ids(db, key, all_ops.len());
    recovered_expecting(db, key, all_ops, case, readable)
}

/// As [`refused_then_recovered`], with the operations recovery must keep given.
fn recovered_expecting(
    db: &Path,
    key: Option<&StoreKey>,
    all_ops: &[Id],
    case: &str,
    readable: BTreeSet<Id>,
) -> u64 {
    let err = Gridwork::open_with(db, options(key)).unwrap_err();
    assert!(
        matches!(err, Error::StoreDamaged(_)),
        "{case}: expected a damaged store, got {err:?}"
    );
    assert!(err.to_string().contains("recover"), "{case}: {err}");
    let damaged_bytes = store_file_bytes(db);

    let export = db.with_extension("unsynced.jsonl");
    let rec = recover_store(db, &options(key), Some(&export)).unwrap();
    // Nothing deleted: the damaged files are beside the store, unchanged.
    let aside: Vec<(String, Vec<u8>)> = rec
        .moved_aside
        .iter()
        .map(|p| {
            let name = p.to_string_lossy();
            let suffix = ["-wal", "-shm"].into_iter().find(|s| name.ends_with(s));
            (suffix.unwrap_or("").to_string(), std::fs::read(p).unwrap())
        })
        .collect();
    assert_eq!(
        aside, damaged_bytes,
        "{case}: the damaged files were kept as they were"
    );
    // Every operation SQLite could still read is kept, and only real ones.
    let salvaged: Vec<Id> = read_export(&export)
        .unwrap()
        .into_iter()
        .map(|u| u.op.id)
        .collect();
    assert_eq!(
        salvaged.iter().copied().collect::<BTreeSet<_>>(),
        readable,
        "{case}: salvaged = readable"
    );
    let in_order: Vec<Id> = all_ops
        .iter()
        .filter(|id| readable.contains(id))
        .copied()
        .collect();
    assert_eq!(salvaged, in_order, "{case}: in the order they were made");
    assert_eq!(rec.salvaged as usize, readable.len());
    // The fresh store opens, is the same device, and has them queued for the next sync.
    let fresh = Gridwork::open_with(db, options(key)).unwrap();
    assert_eq!(queued(&fresh), in_order, "{case}: queued again");
    eprintln!(
        "figure: {case}: {} of {} operations kept, {} unreadable",
        rec.salvaged,
        all_ops.len(),
        rec.unreadable
    );
    rec.salvaged
}

#[test]
fn a_store_cut_short_anywhere_is_refused_and_recovery_keeps_every_readable_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (pristine, ops) = closed_store(dir.path(), None, 30);
    let len = std::fs::metadata(&pristine).unwrap().len();
    let page = 4096;
    let mut kept = Vec::new();
    for (i, cut) in [50, page + 123, len / 2 / page * page, len - page]
        .into_iter()
        .enumerate()
    {
        let db = dir.path().join(format!("cut{i}.db"));
        copy_store(&pristine, &db);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .unwrap()
            .set_len(cut)
            .unwrap();
        kept.push(refused_then_recovered(
            &db,
            None,
            &ops,
            &format!("cut at {cut}"),
        ));
    }
    assert!(
        kept.iter().any(|&k| k > 0),
        "some cuts leave operations to keep: {kept:?}"
    );
}

/// The pages of `table` (and its indexes) in a store, from SQLite's `dbstat`.
fn pages_of(db: &Path, key: Option<&StoreKey>, name: &str) -> Vec<i64> {
    let conn = match key {
        Some(k) => raw_open(db, k),
        None => Connection::open(db).unwrap(),
    };
    let mut stmt = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 ORDER BY pageno")
        .unwrap();
    stmt.query_map([name], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn flip(db: &Path, page: i64, offset: u64) {
    let mut bytes = std::fs::read(db).unwrap();
    let at = ((page - 1) as u64 * 4096 + offset) as usize;
    bytes[at] ^= 0xff;
    bytes[at + 1] ^= 0x5a;
    std::fs::write(db, bytes).unwrap();
}

#[test]
fn overwritten_pages_are_refused_and_recovery_keeps_what_is_still_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (pristine, ops) = closed_store(dir.path(), None, 60);
    let outbox = pages_of(&pristine, None, "outbox");
    let records = pages_of(&pristine, None, "records");
    assert!(outbox.len() > 2, "the outbox spans several pages");
    let cases = [
        ("the first page's b-tree header", 1, 100),
        ("an outbox page", outbox[outbox.len() / 2], 0),
        ("the last outbox page", *outbox.last().unwrap(), 0),
        ("a records page", records[records.len() / 2], 0),
    ];
    let mut kept = Vec::new();
    for (i, (what, page, offset)) in cases.into_iter().enumerate() {
        let db = dir.path().join(format!("flip{i}.db"));
        copy_store(&pristine, &db);
        flip(&db, page, offset);
        kept.push(refused_then_recovered(&db, None, &ops, what));
    }
    assert_eq!(
        kept[3] as usize,
        ops.len(),
        "damage outside the outbox loses no operation"
    );
    assert!(kept[1] > 0 && (kept[1] as usize) < ops.len(), "{kept:?}");
}

#[test]
fn an_encrypted_store_with_an_overwritten_page_is_refused_and_recovered_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let (pristine, ops) = closed_store(dir.path(), Some(&key), 30);
    let records = pages_of(&pristine, Some(&key), "records");
    let db = dir.path().join("flipped.db");
    copy_store(&pristine, &db);
    // Any byte: SQLCipher authenticates every page.
    flip(&db, records[records.len() / 2], 1000);
    let kept = refused_then_recovered(&db, Some(&key), &ops, "encrypted, records page");
    assert_eq!(kept as usize, ops.len());
    let fresh = Gridwork::open_with(&db, options(Some(&key))).unwrap();
    assert!(
        fresh.cipher_settings().unwrap().is_some(),
        "the fresh store is encrypted too"
    );
}

/// A store made before ADR 0056 (pages authenticated with HMAC-SHA512), damaged: refused,
/// salvaged with its key in its own format, and recovered into a store of today's format.
#[test]
fn a_store_made_before_adr_0056_with_an_overwritten_page_is_recovered_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let pristine = dir.path().join("pristine.db");
    legacy_store(&pristine, &key);
    let ops = {
        let gw = Gridwork::open_with(&pristine, options(Some(&key))).unwrap();
        offline_morning(&gw, 30);
        queued(&gw)
    };
    assert!(
        raw_reads(&pristine, &key, "HMAC_SHA512"),
        "still the old format"
    );
    let records = pages_of(&pristine, Some(&key), "records");
    let db = dir.path().join("flipped.db");
    copy_store(&pristine, &db);
    flip(&db, records[records.len() / 2], 1000);
    let kept = refused_then_recovered(&db, Some(&key), &ops, "legacy, records page");
    assert_eq!(kept as usize, ops.len(), "every queued operation salvaged");
    let fresh = Gridwork::open_with(&db, options(Some(&key))).unwrap();
    let cipher = fresh.cipher_settings().unwrap().unwrap();
    assert!(
        cipher.contains("HMAC_SHA256"),
        "the recovered store is new: {cipher}"
    );
}

/// The files of a store as a killed process leaves them (log and index not folded back), copied
/// while the store is open.
fn crash_image(gw_db: &Path, to: &Path) {
    copy_store(gw_db, to);
}

#[test]
fn a_write_ahead_log_removed_mid_way_is_refused_and_the_store_files_changes_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    // Morning: written and closed, so it is in the store file.
    let gw = Gridwork::open_with(&db, options(None)).unwrap();
    offline_morning(&gw, 10);
    let morning = queued(&gw);
    drop(gw);
    // Afternoon: more changes, in the log only, and then the process is killed.
    let gw = Gridwork::open_with(&db, options(None)).unwrap();
    let building = gw
        .pending_ops(usize::MAX)
        .unwrap()
        .into_iter()
        .find(|e| e.op.entity == gridwork_domain::op::EntityKind::Building)
        .unwrap()
        .op
        .entity_id;
    gw.create(Household {
        id: uuid::Uuid::nil(),
        building_id: building,
        unit: "9-909".into(),
        kind: HouseholdKind::Rental,
        phone: None,
        archived: false,
    })
    .unwrap();
    let killed = dir.path().join("killed.db");
    crash_image(&db, &killed);
    drop(gw);

    // The image as it is opens, with the afternoon's change (a crash loses nothing).
    let intact = dir.path().join("intact.db");
    copy_store(&killed, &intact);
    assert_eq!(
        Gridwork::open_with(&intact, options(None))
            .unwrap()
            .pending_count()
            .unwrap() as usize,
        morning.len() + 1
    );

    // Without its log: refused, and recovery keeps the morning that is in the store file.
    std::fs::remove_file(format!("{}-wal", killed.display())).unwrap();
    let kept = refused_then_recovered(&killed, None, &morning, "log removed");
    assert_eq!(kept as usize, morning.len());
}

/// A store whose process was killed with everything still in the log, and whose store file
/// was then cut to nothing; returns the damaged store and the operations made.
fn emptied_after_a_kill(dir: &Path, key: Option<&StoreKey>) -> (PathBuf, Vec<Id>) {
    let db = dir.join("phone.db");
    let gw = Gridwork::open_with(&db, options(key)).unwrap();
    offline_morning(&gw, 5);
    let made = queued(&gw);
    let killed = dir.join("killed.db");
    crash_image(&db, &killed);
    drop(gw);
    std::fs::write(&killed, b"").unwrap();
    (killed, made)
}

#[test]
fn an_empty_store_file_beside_a_log_full_of_changes_is_refused_and_recovered_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (killed, made) = emptied_after_a_kill(dir.path(), None);
    let wal_before = std::fs::read(format!("{}-wal", killed.display())).unwrap();
    let err = Gridwork::open_with(&killed, options(None)).unwrap_err();
    assert!(matches!(err, Error::StoreDamaged(_)), "{err:?}");
    assert_eq!(
        std::fs::read(format!("{}-wal", killed.display())).unwrap(),
        wal_before,
        "the log is still there, untouched"
    );
    // Everything was in the log: recovery rebuilds the first page from it and keeps it all
    // (SQLite alone reads nothing here: it would delete the log).
    let all = made.iter().copied().collect();
    let kept = recovered_expecting(&killed, None, &made, "empty store file, full log", all);
    assert_eq!(kept as usize, made.len());
}

#[test]
fn an_encrypted_store_cut_to_nothing_beside_its_log_is_recovered_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let (killed, made) = emptied_after_a_kill(dir.path(), Some(&key));
    let all = made.iter().copied().collect();
    let kept = recovered_expecting(&killed, Some(&key), &made, "encrypted, empty file", all);
    assert_eq!(kept as usize, made.len());
}

#[test]
fn a_new_store_killed_before_its_first_commit_opens_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    // What a kill during the very first write leaves: an empty file and a log whose frames
    // never committed (here: only the log's header).
    std::fs::write(&db, b"").unwrap();
    let mut header = vec![0u8; 32];
    header[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
    header[8..12].copy_from_slice(&4096u32.to_be_bytes());
    std::fs::write(format!("{}-wal", db.display()), &header).unwrap();
    assert!(Gridwork::open_with(&db, options(None)).is_ok());
}

#[test]
fn unsynced_changes_export_from_a_healthy_store_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gridwork::open_with(dir.path().join("phone.db"), options(None)).unwrap();
    offline_morning(&gw, 3);
    let out = dir.path().join("unsynced.jsonl");
    let n = gw.export_unsynced(&out).unwrap();
    assert_eq!(n, gw.pending_count().unwrap());
    let lines = read_export(&out).unwrap();
    assert_eq!(lines.len() as u64, n);
    assert!(lines.iter().all(|l| l.status == "pending"));
    // An export never overwrites a file.
    assert!(matches!(gw.export_unsynced(&out), Err(Error::File { .. })));
}

/// Issue 26, ADR 0030: an export made from a damaged store (which stays untouched) and the one
/// its recovery writes are audited like any other: noted beside the store, queued when the
/// recovered store opens, and sent with its next sync; never twice.
#[test]
fn exports_from_a_damaged_store_and_by_its_recovery_are_queued_for_the_audit_log() {
    use gridwork_core::access_log::pending_path;
    use gridwork_core::recovery::export_from_damaged;

    let dir = tempfile::tempdir().unwrap();
    let (db, ops) = closed_store(dir.path(), None, 3);
    let before = store_file_bytes(&db);
    let first = dir.path().join("from-damaged.jsonl");
    assert_eq!(
        export_from_damaged(&db, None, &first).unwrap() as usize,
        ops.len()
    );
    assert_eq!(store_file_bytes(&db), before, "the store is left as it was");
    let noted = std::fs::read_to_string(pending_path(&db)).unwrap();
    assert_eq!(noted.lines().count(), 1, "{noted}");
    assert!(!noted.contains("周敏"), "ids and reasons only: {noted}");

    let second = dir.path().join("by-recovery.jsonl");
    recover_store(&db, &options(None), Some(&second)).unwrap();
    let fresh = Gridwork::open_with(&db, options(None)).unwrap();
    let facts = fresh.pending_access_facts().unwrap();
    let mut reasons: Vec<&str> = facts.iter().map(|f| f.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "export of unsynced changes by the recovery of a damaged store",
            "export of unsynced changes from a damaged store",
        ],
        "{facts:?}"
    );
    assert!(
        facts
            .iter()
            .all(|f| f.action == "export" && f.target_id.is_none())
    );
    assert!(!pending_path(&db).exists(), "taken into the queue");
    drop(fresh);
    let again = Gridwork::open_with(&db, options(None)).unwrap();
    assert_eq!(
        again.pending_access_facts().unwrap().len(),
        2,
        "never twice"
    );
}
