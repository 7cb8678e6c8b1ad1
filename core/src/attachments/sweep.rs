//! The phone's sweep of blob files nothing references any more (issue 24, ADR 0045): a photo
//! removed from a building, a case or record that left the phone (scope change, retention, a
//! refused change put back), leaves its encrypted picture and thumbnail behind; the sweep
//! deletes them.
//!
//! A blob is kept while anything on the phone names it: a photo step of a case held here, a
//! photo field of a record held here (its current value), an operation in the outbox (pending
//! or refused and shown), a conflict kept for the user (the value may be applied again), or
//! the upload lane (every blob not yet on the server: queued, waiting for quota, refused by
//! hash until `retry_upload`). So every file the sweep deletes is one the server has or never
//! will take (too large), and a fetch brings it back if a reference returns.
//!
//! A photo's files are written before the transaction that references them commits; the
//! sweep runs only while no photo is being written ([`Vault::sweep_gate`]) and otherwise waits
//! for its next run. Temporary files of a write under way are left alone (those older than a
//! day, left by a crash, are removed).
//!
//! It runs after a sync run that evicted or put back records, at most every
//! [`SWEEP_EVERY_MS`] after other sync runs, and when the app calls
//! [`Gridwork::sweep_attachments`] (e.g. when it goes to the background).

use std::collections::HashSet;
use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use gridwork_domain::attachment::{AttachmentRef, BlobHash};
use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::gridwork::Gridwork;

/// Sync runs that only pulled or pushed sweep at most this often (a removal arrives by pull).
pub const SWEEP_EVERY_MS: u64 = 6 * 60 * 60 * 1000;

/// A temporary file this old is a crashed write's, not one under way.
const STALE_TEMP: Duration = Duration::from_secs(24 * 60 * 60);

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Blob files deleted (pictures and thumbnails nothing references).
    pub removed: u64,
    /// Bytes those files took on the phone.
    pub freed_bytes: u64,
    /// Blob files kept.
    pub kept: u64,
    /// The sweep did not run: a photo was being written (it runs again next time).
    pub busy: bool,
}

/// Every attachment reference inside a JSON value (a case event, a record's fields, an
/// operation, a conflict's value): any object that reads as an [`AttachmentRef`].
fn collect(value: &Value, out: &mut HashSet<BlobHash>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("blob")
                && map.contains_key("media_type")
                && let Ok(a) = serde_json::from_value::<AttachmentRef>(value.clone())
            {
                out.extend(a.blobs().map(|b| b.hash));
            }
            map.values().for_each(|v| collect(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// The blobs something on the phone still names, or that still wait to reach the server.
pub(crate) fn referenced(conn: &Connection) -> Result<HashSet<BlobHash>> {
    let mut out = HashSet::new();
    // Every reference carries its media type; rows without one are skipped unparsed.
    for sql in [
        "SELECT fields FROM records WHERE instr(fields, '\"media_type\"') > 0",
        "SELECT event FROM case_events WHERE instr(event, '\"media_type\"') > 0",
        "SELECT op FROM outbox WHERE instr(op, '\"media_type\"') > 0",
        "SELECT lost_value FROM conflicts WHERE instr(lost_value, '\"media_type\"') > 0",
        "SELECT won_value FROM conflicts WHERE instr(won_value, '\"media_type\"') > 0",
    ] {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            collect(&serde_json::from_str(&text)?, &mut out);
        }
    }
    let mut stmt = conn.prepare("SELECT hash FROM blob_uploads WHERE state <> 'uploaded'")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        if let Ok(h) = text.parse() {
            out.insert(h);
        }
    }
    Ok(out)
}

impl Gridwork {
    /// Deletes the blob files on this phone that nothing references any more (see the module's
    /// documentation for what keeps a blob). Never a blob still waiting to upload, nor one
    /// being written: while a photo is being taken the sweep does nothing (`busy`).
    pub fn sweep_attachments(&self) -> Result<SweepReport> {
        let vault = self.vault()?;
        let Some(_gate) = vault.sweep_gate() else {
            return Ok(SweepReport {
                busy: true,
                ..SweepReport::default()
            });
        };
        let entries = match std::fs::read_dir(vault.dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SweepReport::default());
            }
            Err(source) => {
                return Err(Error::File {
                    action: "list the attachments".into(),
                    source,
                });
            }
        };
        // Listed before the references are read: a blob fetched after the listing is not
        // looked at, and one listed is kept if anything names it when the references are read.
        let entries: Vec<std::fs::DirEntry> = entries.flatten().collect();
        let is_blob = |path: &std::path::Path| path.extension().is_some_and(|e| e == "blob");
        // The references are read only when there is a blob file to judge: reading them reads
        // every record (a subdistrict's phone, 365,000 of them, right after its bootstrap).
        let keep: HashSet<OsString> = if entries.iter().any(|e| is_blob(&e.path())) {
            // The writer's connection: a reference committed a moment ago is seen.
            self.read(referenced)?
                .iter()
                .filter_map(|h| vault.path(h).file_name().map(|n| n.to_os_string()))
                .collect()
        } else {
            HashSet::new()
        };
        let mut report = SweepReport::default();
        for entry in entries {
            let name = entry.file_name();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let path = entry.path();
            if !is_blob(&path) {
                // A write under way (`<name>.tmp<pid>`), unless a crash left it long ago.
                let stale = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age > STALE_TEMP);
                let temp = path
                    .extension()
                    .is_some_and(|e| e.to_string_lossy().starts_with("tmp"));
                if temp && stale {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if keep.contains(&name) {
                report.kept += 1;
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    report.removed += 1;
                    report.freed_bytes += meta.len();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::File {
                        action: "delete an attachment".into(),
                        source,
                    });
                }
            }
        }
        // The lane's rows of blobs gone from the phone and already on the server say nothing
        // any more.
        if report.removed > 0 {
            let gone: Vec<String> = self.read(|c| {
                let mut stmt =
                    c.prepare("SELECT hash FROM blob_uploads WHERE state = 'uploaded'")?;
                let hashes = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(hashes)
            })?;
            let gone: Vec<String> = gone
                .into_iter()
                .filter(|h| h.parse::<BlobHash>().is_ok_and(|h| !vault.has(&h)))
                .collect();
            if !gone.is_empty() {
                self.read(|c| {
                    let mut stmt = c.prepare("DELETE FROM blob_uploads WHERE hash = ?1")?;
                    for h in &gone {
                        stmt.execute([h])?;
                    }
                    Ok(())
                })?;
            }
        }
        tracing::debug!(
            removed = report.removed,
            kept = report.kept,
            freed_bytes = report.freed_bytes,
            "attachments swept"
        );
        Ok(report)
    }
}
