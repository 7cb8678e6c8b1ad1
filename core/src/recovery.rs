//! A damaged store, recovered without losing what the user typed (see
//! `docs/adr/0013-damaged-store-recovery.md`).
//!
//! [`recover_store`] never deletes anything: it moves the damaged files aside, reads from a
//! copy of them every outbox operation SQLite can still reach (by four paths: the table in
//! both directions and its two indexes), and the device's identity and clock; writes those
//! operations to an export file (JSON lines) when asked; and makes a fresh store holding them,
//! which the next sync fills again from the server (a bootstrap) and then pushes them.
//! [`Gridwork::export_unsynced`] writes the same export from a healthy store.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use gridwork_domain::hlc::Hlc;
use gridwork_domain::op::Op;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gridwork::{Gridwork, OpenOptions};
use crate::store::health::{self, StoreFiles};
use crate::store::key::{PageMac, StoreKey};
use crate::store::{meta, open, outbox, records};

/// One line of an export: an operation made on this device that the server has not accepted,
/// with its place in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnsyncedOp {
    /// Its position in the outbox (the order it was made in).
    pub seq: i64,
    /// `pending`, or `rejected` with the server's reason.
    pub status: String,
    pub reason: Option<String>,
    pub created_ms: i64,
    pub op: Op,
}

/// What [`recover_store`] found and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// Where the damaged files now are (moved, never deleted).
    pub moved_aside: Vec<PathBuf>,
    /// The export of the salvaged operations, when one was asked for.
    pub export: Option<PathBuf>,
    /// Outbox operations salvaged into the fresh store (and the export).
    pub salvaged: u64,
    /// Outbox rows that were found but could not be read or decoded.
    pub unreadable: u64,
    /// Whether the device's id and token were read back. If not, the fresh store is a new
    /// device that must enroll again, and the salvaged operations (stamped by the old device,
    /// which the server would refuse from the new one) are kept as rejected: shown, exported,
    /// re-enterable, never silently dropped.
    pub identity_kept: bool,
}

/// The metadata a fresh store takes over: who the device is, how to reach the server, and the
/// clock. The sync cursor is not taken: the fresh store bootstraps again.
const KEPT_META: &[&str] = &[
    meta::DEVICE_ID,
    meta::USER_ID,
    meta::TOKEN,
    meta::ROLE,
    meta::SCOPE,
    meta::ANCHORS,
    meta::HLC_LAST,
    meta::HLC_TRUSTED,
    meta::CLOCK_OFFSET_MS,
    meta::SCOPE_DIGEST,
];

/// The app settings kept in the store (`app.*`) are taken over too.
const APP_SETTING_PREFIX: &str = "app.";

/// The reason given to operations kept as rejected because the device's identity was lost.
pub const IDENTITY_LOST: &str = "salvaged from a damaged store whose device identity could not be \
     read: enroll again and re-enter this change";

/// Recovers the store at `path` (see the module doc). `options.key` unlocks the damaged files
/// and encrypts the fresh store; `export`, when given, must not exist yet and receives the
/// salvaged operations as JSON lines (plaintext: put it in the app's private storage).
pub fn recover_store(
    path: &Path,
    options: &OpenOptions,
    export: Option<&Path>,
) -> Result<Recovery> {
    let files = StoreFiles::of(path);
    if !files.db.exists() && !files.wal.exists() {
        return Err(Error::File {
            action: "recovering the store".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "there is no store here"),
        });
    }
    let stamp = (options.clock)();
    let aside = StoreFiles::of(&suffixed(path, &format!(".damaged-{stamp}")));
    let mut moved_aside = Vec::new();
    for (from, to) in files.all().into_iter().zip(aside.all()) {
        if from.exists() {
            std::fs::rename(from, to).map_err(|source| Error::File {
                action: "moving the damaged store aside".into(),
                source,
            })?;
            moved_aside.push(to.to_path_buf());
        }
    }
    let salvage = salvage(&aside, options.key.as_ref(), stamp)?;
    let export = match export {
        Some(to) => {
            write_export(to, &salvage.ops)?;
            // Queued in the fresh store when it opens, for the audit log (ADR 0030).
            crate::access_log::note_beside(
                path,
                stamp,
                "export",
                "export of unsynced changes by the recovery of a damaged store",
            )?;
            Some(to.to_path_buf())
        }
        None => None,
    };
    let identity_kept = salvage.meta.contains_key(meta::DEVICE_ID);
    refill(path, options, &salvage, identity_kept)?;
    tracing::warn!(
        salvaged = salvage.ops.len(),
        unreadable = salvage.unreadable,
        identity_kept,
        moved_aside = moved_aside.len(),
        "damaged store recovered"
    );
    Ok(Recovery {
        moved_aside,
        export,
        salvaged: salvage.ops.len() as u64,
        unreadable: salvage.unreadable,
        identity_kept,
    })
}

impl Gridwork {
    /// Writes every operation the server has not accepted (pending and rejected, oldest first)
    /// to `to` as JSON lines; `to` must not exist yet. Returns how many were written.
    pub fn export_unsynced(&self, to: &Path) -> Result<u64> {
        let ops = self.read(|conn| {
            let seqs = outbox_seqs(conn)?;
            Ok(seqs
                .into_iter()
                .filter_map(|seq| read_outbox_row(conn, seq).ok().flatten())
                .collect::<Vec<_>>())
        })?;
        write_export(to, &ops)?;
        let now = self.now_ms();
        self.read(|c| {
            crate::access_log::record(c, now, "export", None, "export of unsynced changes")
        })?;
        Ok(ops.len() as u64)
    }
}

/// Writes the unsynced operations still readable in a damaged store to `to` (JSON lines),
/// reading a copy: the store's files are left exactly as they are. Returns how many.
pub fn export_from_damaged(path: &Path, key: Option<&StoreKey>, to: &Path) -> Result<u64> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let salvage = salvage(&StoreFiles::of(path), key, stamp)?;
    write_export(to, &salvage.ops)?;
    // The store is left as it is: the fact waits beside it, queued when it next opens (after
    // its recovery), and reaches the server's audit log with that sync (ADR 0030).
    crate::access_log::note_beside(
        path,
        stamp,
        "export",
        "export of unsynced changes from a damaged store",
    )?;
    Ok(salvage.ops.len() as u64)
}

/// Reads an export written by [`recover_store`] or [`Gridwork::export_unsynced`].
pub fn read_export(from: &Path) -> Result<Vec<UnsyncedOp>> {
    let text = std::fs::read_to_string(from).map_err(|source| Error::File {
        action: "reading the export".into(),
        source,
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

/// What could be read back from a damaged store.
#[derive(Debug, Default)]
struct Salvage {
    meta: BTreeMap<String, String>,
    ops: Vec<UnsyncedOp>,
    unreadable: u64,
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads from a scratch copy of the damaged files, so that SQLite's own repairs on open (log
/// recovery, a checkpoint on close) never touch the files moved aside.
fn salvage(aside: &StoreFiles, key: Option<&StoreKey>, stamp: u64) -> Result<Salvage> {
    let scratch = StoreFiles::of(&suffixed(&aside.db, &format!(".salvage-{stamp}")));
    let copy = |from: &Path, to: &Path| -> Result<()> {
        if from.exists() {
            std::fs::copy(from, to).map_err(|source| Error::File {
                action: "copying the damaged store to read it".into(),
                source,
            })?;
        }
        Ok(())
    };
    for (from, to) in aside.all().into_iter().zip(scratch.all()) {
        copy(from, to)?;
    }
    rebuild_first_page(&scratch)?;
    let result = read_salvage(&scratch.db, key);
    for f in scratch.all() {
        // Our own copies; the originals stay where they were moved.
        let _ = std::fs::remove_file(f);
    }
    Ok(result.unwrap_or_default())
}

/// An empty store file beside a log: SQLite would delete the log, so the scratch copy's
/// store file gets the log's newest committed first page, and SQLite then reads every other
/// page from the log.
fn rebuild_first_page(scratch: &StoreFiles) -> Result<()> {
    if std::fs::metadata(&scratch.db).map_or(0, |m| m.len()) > 0 {
        return Ok(());
    }
    if let Some(page) = health::read_wal(&scratch.wal)?.and_then(|w| w.first_page) {
        std::fs::write(&scratch.db, page).map_err(|source| Error::File {
            action: "rebuilding the store's first page from its log".into(),
            source,
        })?;
    }
    Ok(())
}

/// A scratch copy's connection, unlocked with `key`.
fn salvage_connection(db: &Path, key: Option<&StoreKey>) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    if let Some(key) = key {
        crate::store::open::apply_key(&conn, key)?;
    }
    // SQLite refuses a file shorter than its header says unless the schema is "writable";
    // nothing is written here (and this is a scratch copy).
    let _ = conn.execute_batch("PRAGMA writable_schema = ON; PRAGMA query_only = ON");
    Ok(conn)
}

/// Whether `conn` reads its store's schema: a key (and page MAC) that opens the store.
fn readable(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok()
}

fn read_salvage(db: &Path, key: Option<&StoreKey>) -> Result<Salvage> {
    if std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) == 0 {
        // SQLite would delete the log beside an empty file; there is no page to read.
        return Ok(Salvage::default());
    }
    let mut conn = salvage_connection(db, key)?;
    // A store made before ADR 0056 authenticates its pages with HMAC-SHA512.
    if let Some(key) = key
        && !readable(&conn)
    {
        let legacy = salvage_connection(db, Some(&key.with_page_mac(PageMac::Sha512)))?;
        if readable(&legacy) {
            conn = legacy;
        }
    }
    let mut salvage = Salvage::default();
    let mut keys: BTreeSet<String> = KEPT_META.iter().map(|k| k.to_string()).collect();
    keys.extend(scan(&conn, "SELECT key FROM meta ORDER BY key"));
    keys.extend(scan(&conn, "SELECT key FROM meta ORDER BY key DESC"));
    for k in keys {
        if let Ok(Some(v)) = meta::get(&conn, &k)
            && (KEPT_META.contains(&k.as_str()) || k.starts_with(APP_SETTING_PREFIX))
        {
            salvage.meta.insert(k, v);
        }
    }
    for seq in outbox_seqs_tolerant(&conn) {
        match read_outbox_row(&conn, seq) {
            Ok(Some(op)) => salvage.ops.push(op),
            Ok(None) => {}
            Err(_) => salvage.unreadable += 1,
        }
    }
    Ok(salvage)
}

/// The values of the first column of `sql`, up to the first error (a damaged page).
fn scan<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> Vec<T> {
    let mut out = Vec::new();
    let Ok(mut stmt) = conn.prepare(sql) else {
        return out;
    };
    let Ok(mut rows) = stmt.query([]) else {
        return out;
    };
    while let Ok(Some(row)) = rows.next() {
        match row.get(0) {
            Ok(v) => out.push(v),
            Err(_) => break,
        }
    }
    out
}

/// Every outbox row a damaged store still shows by any of the paths it has: the table forwards
/// and backwards (each stops at the first damaged page, from its own end), and, in a store
/// older than schema version 5 (ADR 0036), the two indexes, which hold every row's key in
/// b-trees of their own.
fn outbox_seqs_tolerant(conn: &Connection) -> BTreeSet<i64> {
    [
        "SELECT seq FROM outbox ORDER BY seq",
        "SELECT seq FROM outbox ORDER BY seq DESC",
        "SELECT seq FROM outbox INDEXED BY outbox_by_entity ORDER BY entity_id",
        "SELECT seq FROM outbox INDEXED BY sqlite_autoindex_outbox_1 ORDER BY op_id",
    ]
    .into_iter()
    .flat_map(|sql| scan::<i64>(conn, sql))
    .collect()
}

/// Every outbox row of a healthy store.
fn outbox_seqs(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT seq FROM outbox ORDER BY seq")?;
    let seqs = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(seqs)
}

fn read_outbox_row(conn: &Connection, seq: i64) -> Result<Option<UnsyncedOp>> {
    let row = conn
        .prepare_cached("SELECT op, status, reason, created_ms FROM outbox WHERE seq = ?1")?
        .query_row([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    let Some((op, status, reason, created_ms)) = row else {
        return Ok(None);
    };
    Ok(Some(UnsyncedOp {
        seq,
        status,
        reason,
        created_ms,
        op: serde_json::from_str(&op)?,
    }))
}

fn write_export(to: &Path, ops: &[UnsyncedOp]) -> Result<()> {
    let file_error = |source| Error::File {
        action: "writing the export of unsynced changes".into(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(file_error)?;
    let mut text = String::new();
    for op in ops {
        text.push_str(&serde_json::to_string(op).map_err(Error::from)?);
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(file_error)?;
    file.sync_all().map_err(file_error)
}

/// Makes the fresh store: the kept metadata, the clock past every salvaged stamp, and the
/// salvaged operations applied and queued again in their order, all in one transaction.
fn refill(
    path: &Path,
    options: &OpenOptions,
    salvage: &Salvage,
    identity_kept: bool,
) -> Result<()> {
    let conn = open::open_database(path, options.key.as_ref())?;
    let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
    let mut kept = salvage.meta.clone();
    if !identity_kept {
        // Without the device id, the token and user are of no use: the device enrolls again.
        kept.retain(|k, _| {
            k.starts_with(APP_SETTING_PREFIX)
                || k == meta::CLOCK_OFFSET_MS
                || k == meta::HLC_LAST
                || k == meta::HLC_TRUSTED
        });
    }
    let last_op = salvage.ops.iter().map(|o| o.op.stamp.hlc).max();
    let last_meta = kept
        .get(meta::HLC_LAST)
        .and_then(|v| v.parse().ok())
        .map(Hlc::from_u64);
    if let Some(last) = last_op.max(last_meta) {
        kept.insert(meta::HLC_LAST.into(), last.as_u64().to_string());
    }
    for (k, v) in &kept {
        meta::set(&tx, k, v)?;
    }
    let device = match kept.get(meta::DEVICE_ID).and_then(|d| d.parse().ok()) {
        Some(d) => d,
        None => {
            let d = crate::new_id();
            meta::set(&tx, meta::DEVICE_ID, &d.to_string())?;
            d
        }
    };
    let now = (options.clock)();
    for entry in &salvage.ops {
        // An operation the fresh store cannot apply is still queued (and exported): the server
        // or the user decides, nothing is dropped here.
        tx.execute_batch("SAVEPOINT salvaged_op")?;
        match records::apply_op(&tx, &entry.op, device, now) {
            Ok(_) => tx.execute_batch("RELEASE salvaged_op")?,
            Err(_) => tx.execute_batch("ROLLBACK TO salvaged_op; RELEASE salvaged_op")?,
        }
        let rejected = if identity_kept {
            (entry.status == "rejected").then(|| entry.reason.clone().unwrap_or_default())
        } else {
            Some(IDENTITY_LOST.to_string())
        };
        outbox::restore(&tx, &entry.op, entry.created_ms, rejected.as_deref())?;
    }
    tx.commit()?;
    Ok(())
}
