//! What this device showed or exported, for the server's audit log (issue 26, ADR 0025): every
//! time a resident's full ID number is shown ([`Gridwork::resident_for_view`]) and every export
//! written ([`Gridwork::export_unsynced`]), a fact is queued here (who is the device's user,
//! which record by id, why; never the value) and sent to `POST /v1/audit` when the device syncs.
//! A fact the server has is deleted; one it has not stays queued, and a fact sent twice is kept
//! once by the server (by its id).

use gridwork_domain::ids::{Id, new_id};
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
