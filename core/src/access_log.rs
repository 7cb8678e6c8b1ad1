//! What this device showed or exported, for the server's audit log (issue 26, ADR 0025): every
//! time a resident's full ID number is shown ([`Gridwork::resident_for_view`]) and every export
//! written ([`Gridwork::export_unsynced`]), a fact is queued here (who is the device's user,
//! which record by id, why; never the value) and sent to `POST /v1/audit` when the device syncs.
//! A fact the server has is deleted; one it has not stays queued, and a fact sent twice is kept
//! once by the server (by its id).
//!
//! An export made where the store cannot be opened — from a damaged store
//! ([`crate::recovery::export_from_damaged`]) or by its recovery
//! ([`crate::recovery::recover_store`]) — is noted in a file beside the store
//! ([`pending_path`], JSON lines, ids and reasons only) and taken into the queue the next time the
//! store opens, so it reaches the server's audit log with the next sync like any other (ADR 0030).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use gridwork_domain::ids::Id;

use crate::new_id;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::gridwork::Gridwork;
use crate::sync::{Transport, TransportError};

/// One fact, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFact {
    pub id: Id,
    pub at_ms: u64,
    /// `read_id_number` or `export`.
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<Id>,
    pub reason: String,
}

/// `POST /v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    pub facts: Vec<AccessFact>,
}

/// The server's answer: facts new to it, facts it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReported {
    pub stored: usize,
    pub already: usize,
}

/// The most facts sent in one report (the server takes up to 500).
const BATCH: usize = 200;

/// Queues a fact.
pub(crate) fn record(
    conn: &Connection,
    at_ms: u64,
    action: &str,
    target: Option<(&str, Id)>,
    reason: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO access_facts (id, at_ms, action, target_kind, target_id, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new_id().to_string(),
        at_ms as i64,
        action,
        target.map(|(k, _)| k),
        target.map(|(_, id)| id.to_string()),
        reason
    ])?;
    Ok(())
}

/// The file beside the store at `store` where exports made without opening it are noted.
pub fn pending_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push(".audit-pending");
    PathBuf::from(s)
}

/// Notes an export made beside the store at `store` (which could not be opened), to be queued
/// when it next opens.
pub(crate) fn note_beside(store: &Path, at_ms: u64, action: &str, reason: &str) -> Result<()> {
    let fact = AccessFact {
        id: new_id(),
        at_ms,
        action: action.into(),
        target_kind: None,
        target_id: None,
        reason: reason.into(),
    };
    let line = serde_json::to_string(&fact)?;
    let file_error = |source| crate::error::Error::File {
        action: "noting the export for the audit log".into(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(pending_path(store))
        .map_err(file_error)?;
    writeln!(file, "{line}")
        .and_then(|()| file.sync_all())
        .map_err(file_error)?;
    Ok(())
}

/// Queues the facts noted beside the store at `store` and removes the note. A fact queued
/// twice (the note not removed after a crash) is kept once, by its id, here and on the server.
pub(crate) fn adopt_beside(conn: &Connection, store: &Path) {
    let path = pending_path(store);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let mut adopted = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(f) = serde_json::from_str::<AccessFact>(line) else {
            tracing::warn!("a noted audit fact could not be read; skipped");
            continue;
        };
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO access_facts
                     (id, at_ms, action, target_kind, target_id, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    f.id.to_string(),
                    f.at_ms as i64,
                    f.action,
                    f.target_kind,
                    f.target_id.map(|t| t.to_string()),
                    f.reason
                ])
            });
        match inserted {
            Ok(_) => adopted += 1,
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue the noted audit facts; kept for later");
                return;
            }
        }
    }
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(error = %e, "cannot remove the noted audit facts (queued; sent once)");
    }
    tracing::info!(
        adopted,
        "exports made beside the store queued for the audit log"
    );
}

fn queued(conn: &Connection, limit: usize) -> Result<Vec<AccessFact>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at_ms, action, target_kind, target_id, reason FROM access_facts
         ORDER BY at_ms, id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at_ms, action, target_kind, target_id, reason) = row?;
        let Ok(id) = id.parse() else { continue };
        out.push(AccessFact {
            id,
            at_ms: at_ms as u64,
            action,
            target_kind,
            target_id: target_id.and_then(|t| t.parse().ok()),
            reason,
        });
    }
    Ok(out)
}

impl Gridwork {
    /// The facts waiting to be sent to the server's audit log.
    pub fn pending_access_facts(&self) -> Result<Vec<AccessFact>> {
        self.query(|c| queued(c, usize::MAX >> 1))
    }

    /// Sends the queued facts; those the server has are deleted. Returns how many were sent.
    pub(crate) async fn report_access<T: Transport>(
        &self,
        transport: &T,
    ) -> std::result::Result<usize, TransportError> {
        let mut sent = 0;
        loop {
            let facts = self
                .query(|c| queued(c, BATCH))
                .map_err(|e| TransportError::BadAnswer(e.to_string()))?;
            if facts.is_empty() {
                return Ok(sent);
            }
            let n = facts.len();
            let ids: Vec<String> = facts.iter().map(|f| f.id.to_string()).collect();
            transport.report_access(&AccessReport { facts }).await?;
            self.read(|c| {
                let mut stmt = c.prepare_cached("DELETE FROM access_facts WHERE id = ?1")?;
                for id in &ids {
                    stmt.execute([id])?;
                }
                Ok(())
            })
            .map_err(|e| TransportError::BadAnswer(e.to_string()))?;
            sent += n;
            if n < BATCH {
                return Ok(sent);
            }
        }
    }
}
