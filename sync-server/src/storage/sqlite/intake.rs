//! Service accounts, work orders, the callback queue and the audit log on SQLite (migration
//! 005). Writes go through the one writer connection, so an audit append never interleaves
//! with another.

use gridwork_domain::ids::Id;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::SqliteStorage;
use crate::audit::{AuditAction, AuditEntry, AuditFact, AuditFilter};
use crate::storage::intake::{
    AuditStorage, CallbackTarget, DueCallback, IntakeOrder, IntakeStorage, NewCallback,
    ServiceAccount,
};
use crate::storage::{StorageError, User};

fn parse_id(s: &str) -> Result<Id, StorageError> {
    Uuid::try_parse(s).map_err(|_| StorageError::Corrupt(format!("bad id {s:?}")))
}

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.token_hash, a.callback_url, a.callback_secret,
     a.created_ms, a.revoked_ms, u.id, u.name, u.role, u.scope";

fn account_row(r: &Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: r.get(0)?,
        name: r.get(1)?,
        token_hash: r.get(2)?,
        url: r.get(3)?,
        secret: r.get(4)?,
        created_ms: r.get(5)?,
        revoked_ms: r.get(6)?,
        user: (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?),
    })
}

struct AccountRow {
    id: String,
    name: String,
    token_hash: String,
    url: Option<String>,
    secret: Option<String>,
    created_ms: i64,
    revoked_ms: Option<i64>,
    user: (String, String, String, String),
}

impl AccountRow {
    fn decode(self) -> Result<ServiceAccount, StorageError> {
        let (uid, uname, role, scope) = self.user;
        Ok(ServiceAccount {
            id: parse_id(&self.id)?,
            user: User {
                id: parse_id(&uid)?,
                name: uname,
                role: gridwork_domain::sync::Role::parse(&role)
                    .ok_or_else(|| StorageError::Corrupt(format!("unknown role {role:?}")))?,
                scope: serde_json::from_str(&scope)?,
            },
            name: self.name,
            token_hash: self.token_hash,
            callback: match (self.url, self.secret) {
                (Some(url), Some(secret)) => Some(CallbackTarget { url, secret }),
                _ => None,
            },
            created_ms: self.created_ms as u64,
            revoked: self.revoked_ms.is_some(),
        })
    }
}

/// A queued callback's columns with its account's callback target.
type DueRow = (
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

fn order_row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn decode_order(
    (account, source_id, kind, case_id, received_ms): (String, String, String, String, i64),
) -> Result<IntakeOrder, StorageError> {
    Ok(IntakeOrder {
        account: parse_id(&account)?,
        source_id,
        kind,
        case_id: parse_id(&case_id)?,
        received_ms: received_ms as u64,
    })
}

fn find_order(
    conn: &Connection,
    account: Id,
    source_id: &str,
) -> Result<Option<IntakeOrder>, StorageError> {
    conn.prepare_cached(
        "SELECT account_id, source_id, kind, case_id, received_ms FROM intake_orders
         WHERE account_id = ?1 AND source_id = ?2",
    )?
    .query_row(params![account.to_string(), source_id], order_row)
    .optional()?
    .map(decode_order)
    .transpose()
}

/// The live record of `kind` whose `field` is `?1`. Kind and field are written into the
/// statement (they are ours, never a request's), so the partial expression index of migration
/// 005 serves the building lookup.
fn lookup_sql(kind: &'static str, field: &'static str) -> String {
    format!(
        "SELECT id FROM records WHERE kind = '{kind}'
           AND json_extract(state, '$.fields.{field}') = ?1
           AND json_extract(state, '$.tombstone') IS NULL
         ORDER BY id LIMIT 1"
    )
}

fn live_by_field(
    conn: &Connection,
    kind: &'static str,
    field: &'static str,
    value: &str,
) -> Result<Option<Id>, StorageError> {
    let id: Option<String> = conn
        .prepare_cached(&lookup_sql(kind, field))?
        .query_row(params![value], |r| r.get(0))
        .optional()?;
    id.as_deref().map(parse_id).transpose()
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        at_ms: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target_kind: r.get(4)?,
        target_id: r.get(5)?,
        reason: r.get(6)?,
        fact_id: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

struct AuditRow {
    seq: i64,
    at_ms: i64,
    actor: String,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    reason: String,
    fact_id: Option<String>,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn decode(self) -> Result<AuditEntry, StorageError> {
        Ok(AuditEntry {
            seq: self.seq as u64,
            fact: AuditFact {
                at_ms: self.at_ms as u64,
                actor: self.actor,
                action: AuditAction::parse(&self.action).ok_or_else(|| {
                    StorageError::Corrupt(format!("unknown audit action {:?}", self.action))
                })?,
                target_kind: self.target_kind,
                target_id: self.target_id,
                reason: self.reason,
                fact_id: self.fact_id,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

impl IntakeStorage for SqliteStorage {
    async fn store_service_account(
        &self,
        id: Id,
        user: Id,
        name: String,
        token_hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO service_accounts (id, user_id, name, token_hash, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id.to_string(),
                    user.to_string(),
                    name,
                    token_hash,
                    now_ms as i64
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn service_account(&self, id: Id) -> Result<Option<ServiceAccount>, StorageError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a JOIN users u ON u.id = a.user_id
                 WHERE a.id = ?1"
            ))?
            .query_row([id.to_string()], account_row)
            .optional()?
            .map(AccountRow::decode)
            .transpose()
        })
        .await
    }

    async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a JOIN users u ON u.id = a.user_id
                 ORDER BY a.created_ms, a.id"
            ))?;
            let rows = stmt.query_map([], account_row)?;
            rows.map(|r| r.map_err(StorageError::from).and_then(AccountRow::decode))
                .collect()
        })
        .await
    }

    async fn set_callback(
        &self,
        account: Id,
        target: Option<CallbackTarget>,
    ) -> Result<bool, StorageError> {
        self.write(move |conn| {
            let (url, secret) = match target {
                Some(t) => (Some(t.url), Some(t.secret)),
                None => (None, None),
            };
            let n = conn.execute(
                "UPDATE service_accounts SET callback_url = ?2, callback_secret = ?3 WHERE id = ?1",
                params![account.to_string(), url, secret],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn revoke_service_account(&self, account: Id, now_ms: u64) -> Result<bool, StorageError> {
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE service_accounts SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![account.to_string(), now_ms as i64],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn intake_order(
        &self,
        account: Id,
        source_id: String,
    ) -> Result<Option<IntakeOrder>, StorageError> {
        self.read(move |conn| find_order(conn, account, &source_id))
            .await
    }

    async fn insert_intake_order(&self, order: IntakeOrder) -> Result<IntakeOrder, StorageError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO intake_orders
                   (account_id, source_id, kind, case_id, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    order.account.to_string(),
                    order.source_id,
                    order.kind,
                    order.case_id.to_string(),
                    order.received_ms as i64
                ],
            )?;
            let kept = find_order(&tx, order.account, &order.source_id)?
                .ok_or_else(|| StorageError::Corrupt("an order just stored is missing".into()))?;
            tx.commit()?;
            Ok(kept)
        })
        .await
    }

    async fn intake_orders_of_cases(
        &self,
        cases: Vec<Id>,
    ) -> Result<Vec<IntakeOrder>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT account_id, source_id, kind, case_id, received_ms FROM intake_orders
                 WHERE case_id = ?1",
            )?;
            let mut out = Vec::new();
            for case in cases {
                if let Some(row) = stmt.query_row([case.to_string()], order_row).optional()? {
                    out.push(decode_order(row)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn building_by_address_code(&self, code: String) -> Result<Option<Id>, StorageError> {
        self.read(move |conn| live_by_field(conn, "building", "address_code", &code))
            .await
    }

    async fn area_by_code(&self, code: String) -> Result<Option<Id>, StorageError> {
        self.read(move |conn| live_by_field(conn, "area", "code", &code))
            .await
    }

    async fn callback_cursor(&self) -> Result<u64, StorageError> {
        self.read(|conn| {
            let seq: Option<i64> = conn
                .prepare_cached("SELECT seq FROM callback_cursor WHERE id = 1")?
                .query_row([], |r| r.get(0))
                .optional()?;
            Ok(seq.unwrap_or(0) as u64)
        })
        .await
    }

    async fn enqueue_callbacks(
        &self,
        from: u64,
        to: u64,
        items: Vec<NewCallback>,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO callback_cursor (id, seq) VALUES (1, 0) ON CONFLICT DO NOTHING",
                [],
            )?;
            let moved = tx.execute(
                "UPDATE callback_cursor SET seq = ?2 WHERE id = 1 AND seq = ?1",
                params![from as i64, to as i64],
            )?;
            if moved != 1 {
                return Ok(false);
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO callbacks (account_id, event_id, case_id, body, next_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for item in &items {
                    stmt.execute(params![
                        item.account.to_string(),
                        item.event_id.to_string(),
                        item.case_id.to_string(),
                        item.body,
                        now_ms as i64
                    ])?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn claim_callbacks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<DueCallback>, StorageError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let rows: Vec<DueRow> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT c.id, c.account_id, c.event_id, c.body, c.attempts,
                            a.callback_url, a.callback_secret
                     FROM callbacks c LEFT JOIN service_accounts a ON a.id = c.account_id
                     WHERE c.delivered_ms IS NULL AND c.next_ms <= ?1
                     ORDER BY c.next_ms, c.id LIMIT ?2",
                )?;
                stmt.query_map(params![now_ms as i64, limit as i64], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?
            };
            let mut out = Vec::with_capacity(rows.len());
            {
                let mut lease =
                    tx.prepare_cached("UPDATE callbacks SET next_ms = ?2 WHERE id = ?1")?;
                for (id, account, event, body, attempts, url, secret) in rows {
                    lease.execute(params![id, now_ms.saturating_add(lease_ms) as i64])?;
                    out.push(DueCallback {
                        id,
                        account: parse_id(&account)?,
                        event_id: parse_id(&event)?,
                        body,
                        attempts: attempts as u32,
                        target: match (url, secret) {
                            (Some(url), Some(secret)) => Some(CallbackTarget { url, secret }),
                            _ => None,
                        },
                    });
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn callback_delivered(&self, id: i64, now_ms: u64) -> Result<(), StorageError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE callbacks SET delivered_ms = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE id = ?1",
                params![id, now_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn callback_failed(
        &self,
        id: i64,
        next_ms: Option<u64>,
        error: String,
    ) -> Result<(), StorageError> {
        self.write(move |conn| {
            // Given up: kept, with its error, but never due again.
            let next = next_ms.map_or(i64::MAX, |n| n as i64);
            conn.execute(
                "UPDATE callbacks SET attempts = attempts + 1, next_ms = ?2, last_error = ?3
                 WHERE id = ?1",
                params![id, next, error],
            )?;
            Ok(())
        })
        .await
    }

    async fn callback_counts(&self, account: Id) -> Result<(u64, u64), StorageError> {
        self.read(move |conn| {
            let (waiting, delivered): (i64, i64) = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(delivered_ms IS NULL), 0),
                            COALESCE(SUM(delivered_ms IS NOT NULL), 0)
                     FROM callbacks WHERE account_id = ?1",
                )?
                .query_row([account.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok((waiting as u64, delivered as u64))
        })
        .await
    }
}

impl AuditStorage for SqliteStorage {
    async fn append_audit(&self, fact: AuditFact) -> Result<Option<AuditEntry>, StorageError> {
        self.write_beside_records(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(fid) = &fact.fact_id {
                let seen: bool = tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit_log WHERE fact_id = ?1)")?
                    .query_row([fid], |r| r.get(0))?;
                if seen {
                    return Ok(None);
                }
            }
            let last: Option<(i64, String)> = tx
                .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let entry = AuditEntry::next(last.as_ref().map(|(s, h)| (*s as u64, h.as_str())), fact);
            tx.prepare_cached(
                "INSERT INTO audit_log (seq, at_ms, actor, action, target_kind, target_id, reason,
                                        fact_id, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                entry.seq as i64,
                entry.fact.at_ms as i64,
                entry.fact.actor,
                entry.fact.action.as_str(),
                entry.fact.target_kind,
                entry.fact.target_id,
                entry.fact.reason,
                entry.fact.fact_id,
                entry.prev_hash,
                entry.hash
            ])?;
            tx.commit()?;
            Ok(Some(entry))
        })
        .await
    }

    async fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at_ms, actor, action, target_kind, target_id, reason, fact_id,
                        prev_hash, hash
                 FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after as i64, limit as i64], audit_row)?;
            rows.map(|r| r.map_err(StorageError::from).and_then(AuditRow::decode))
                .collect()
        })
        .await
    }

    /// The filter in SQL: only the entries picked are read, newest first up to the limit.
    async fn find_audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at_ms, actor, action, target_kind, target_id, reason, fact_id,
                        prev_hash, hash
                 FROM audit_log
                 WHERE (?1 IS NULL OR target_id = ?1)
                   AND (?2 IS NULL OR instr(actor, ?2) > 0)
                   AND (?3 IS NULL OR action = ?3)
                   AND (?4 IS NULL OR at_ms >= ?4)
                   AND (?5 IS NULL OR at_ms < ?5)
                   AND (?6 IS NULL OR seq < ?6)
                 ORDER BY seq DESC LIMIT ?7",
            )?;
            let time = |ms: Option<u64>| ms.map(|m| m.min(i64::MAX as u64) as i64);
            let rows = stmt.query_map(
                params![
                    filter.target_id,
                    filter.actor,
                    filter.action.map(|a| a.as_str()),
                    time(filter.since_ms),
                    time(filter.until_ms),
                    time(filter.before_seq),
                    filter.sql_limit()
                ],
                audit_row,
            )?;
            let mut out = rows
                .map(|r| r.map_err(StorageError::from).and_then(AuditRow::decode))
                .collect::<Result<Vec<_>, _>>()?;
            out.reverse();
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_building_is_looked_up_by_its_address_code_through_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("s.db")).unwrap();
        drop(storage);
        let conn = Connection::open(dir.path().join("s.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                lookup_sql("building", "address_code")
            ))
            .unwrap()
            .query_map(["3301060010010010001"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|p| p.contains("records_building_by_address_code")),
            "{plan:?}"
        );
    }
}
