//! Service accounts, work orders, the callback queue and the audit log on PostgreSQL
//! (migration 004). Several server processes share these tables: an audit append locks the
//! log's table for its transaction (appends are rare; readers are not blocked), a callback is
//! claimed with `FOR UPDATE SKIP LOCKED` and a lease, and the callback scanner moves its cursor
//! by compare-and-set.

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;
use tokio_postgres::Row;

use super::PgStorage;
use crate::audit::{AuditAction, AuditEntry, AuditFact, AuditFilter};
use crate::storage::intake::{
    AuditStorage, CallbackTarget, DueCallback, IntakeOrder, IntakeStorage, NewCallback,
    ServiceAccount,
};
use crate::storage::{StorageError, User};

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.token_hash, a.callback_url, a.callback_secret,
     a.created_ms, a.revoked_ms, u.id, u.name, u.role, u.scope";

fn decode_account(r: &Row) -> Result<ServiceAccount, StorageError> {
    let role: String = r.get(9);
    let url: Option<String> = r.get(3);
    let secret: Option<String> = r.get(4);
    let revoked: Option<i64> = r.get(6);
    Ok(ServiceAccount {
        id: r.get(0),
        name: r.get(1),
        token_hash: r.get(2),
        callback: match (url, secret) {
            (Some(url), Some(secret)) => Some(CallbackTarget { url, secret }),
            _ => None,
        },
        created_ms: r.get::<_, i64>(5) as u64,
        revoked: revoked.is_some(),
        user: User {
            id: r.get(7),
            name: r.get(8),
            role: gridwork_domain::sync::Role::parse(&role)
                .ok_or_else(|| StorageError::Corrupt(format!("unknown role {role:?}")))?,
            scope: r.get(10),
        },
    })
}

fn decode_order(r: &Row) -> IntakeOrder {
    IntakeOrder {
        account: r.get(0),
        source_id: r.get(1),
        kind: r.get(2),
        case_id: r.get(3),
        received_ms: r.get::<_, i64>(4) as u64,
    }
}

const ORDER_COLUMNS: &str = "account_id, source_id, kind, case_id, received_ms";

fn decode_audit(r: &Row) -> Result<AuditEntry, StorageError> {
    let action: String = r.get(3);
    Ok(AuditEntry {
        seq: r.get::<_, i64>(0) as u64,
        fact: AuditFact {
            at_ms: r.get::<_, i64>(1) as u64,
            actor: r.get(2),
            action: AuditAction::parse(&action)
                .ok_or_else(|| StorageError::Corrupt(format!("unknown audit action {action:?}")))?,
            target_kind: r.get(4),
            target_id: r.get(5),
            reason: r.get(6),
            fact_id: r.get(7),
        },
        prev_hash: r.get(8),
        hash: r.get(9),
    })
}

/// The first live record of `kind` whose `compared` (an expression over `records`) equals
/// `value`. Kind and expression are written into the statement (they are ours, never a
/// request's), so a partial index on that expression serves it.
async fn live_by(
    client: &impl GenericClient,
    kind: &'static str,
    compared: &'static str,
    value: &str,
) -> Result<Option<Id>, StorageError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT id FROM records WHERE kind = '{kind}' AND {compared} = $1
                   AND COALESCE(state::jsonb -> 'tombstone', 'null'::jsonb) = 'null'::jsonb
                 ORDER BY id LIMIT 1"
            ),
            &[&value],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

impl IntakeStorage for PgStorage {
    async fn store_service_account(
        &self,
        id: Id,
        user: Id,
        name: String,
        token_hash: String,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO service_accounts (id, user_id, name, token_hash, created_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &user, &name, &token_hash, &(now_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn service_account(&self, id: Id) -> Result<Option<ServiceAccount>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a
                     JOIN users u ON u.id = a.user_id WHERE a.id = $1"
                ),
                &[&id],
            )
            .await?;
        row.as_ref().map(decode_account).transpose()
    }

    async fn list_service_accounts(&self) -> Result<Vec<ServiceAccount>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a
                     JOIN users u ON u.id = a.user_id ORDER BY a.created_ms, a.id"
                ),
                &[],
            )
            .await?;
        rows.iter().map(decode_account).collect()
    }

    async fn set_callback(
        &self,
        account: Id,
        target: Option<CallbackTarget>,
    ) -> Result<bool, StorageError> {
        let (url, secret) = match target {
            Some(t) => (Some(t.url), Some(t.secret)),
            None => (None, None),
        };
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE service_accounts SET callback_url = $2, callback_secret = $3 WHERE id = $1",
                &[&account, &url, &secret],
            )
            .await?;
        Ok(n == 1)
    }

    async fn revoke_service_account(&self, account: Id, now_ms: u64) -> Result<bool, StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE service_accounts SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1",
                &[&account, &(now_ms as i64)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn intake_order(
        &self,
        account: Id,
        source_id: String,
    ) -> Result<Option<IntakeOrder>, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM intake_orders
                     WHERE account_id = $1 AND source_id = $2"
                ),
                &[&account, &source_id],
            )
            .await?;
        Ok(row.as_ref().map(decode_order))
    }

    async fn insert_intake_order(&self, order: IntakeOrder) -> Result<IntakeOrder, StorageError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO intake_orders (account_id, source_id, kind, case_id, received_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &order.account,
                    &order.source_id,
                    &order.kind,
                    &order.case_id,
                    &(order.received_ms as i64),
                ],
            )
            .await?;
        let row = client
            .query_one(
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM intake_orders
                     WHERE account_id = $1 AND source_id = $2"
                ),
                &[&order.account, &order.source_id],
            )
            .await?;
        Ok(decode_order(&row))
    }

    async fn intake_orders_of_cases(
        &self,
        cases: Vec<Id>,
    ) -> Result<Vec<IntakeOrder>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {ORDER_COLUMNS} FROM intake_orders WHERE case_id = ANY($1)"),
                &[&cases],
            )
            .await?;
        Ok(rows.iter().map(decode_order).collect())
    }

    async fn building_by_address_code(&self, code: String) -> Result<Option<Id>, StorageError> {
        // The column of migration 009, under its partial index.
        live_by(&self.client().await?, "building", "address_code", &code).await
    }

    async fn area_by_code(&self, code: String) -> Result<Option<Id>, StorageError> {
        // Read from the state: areas are few.
        let code_field = "((state::jsonb -> 'fields') ->> 'code')";
        live_by(&self.client().await?, "area", code_field, &code).await
    }

    async fn callback_cursor(&self) -> Result<u64, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT seq FROM callback_cursor WHERE id = 1", &[])
            .await?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    async fn enqueue_callbacks(
        &self,
        from: u64,
        to: u64,
        items: Vec<NewCallback>,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO callback_cursor (id, seq) VALUES (1, 0) ON CONFLICT DO NOTHING",
            &[],
        )
        .await?;
        let moved = tx
            .execute(
                "UPDATE callback_cursor SET seq = $2 WHERE id = 1 AND seq = $1",
                &[&(from as i64), &(to as i64)],
            )
            .await?;
        if moved != 1 {
            return Ok(false);
        }
        for item in &items {
            tx.execute(
                "INSERT INTO callbacks (account_id, event_id, case_id, body, next_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &item.account,
                    &item.event_id,
                    &item.case_id,
                    &item.body,
                    &(now_ms as i64),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_callbacks(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<DueCallback>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH due AS (
                     SELECT id FROM callbacks
                     WHERE delivered_ms IS NULL AND next_ms <= $1
                     ORDER BY next_ms, id LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 ), leased AS (
                     UPDATE callbacks c SET next_ms = $2 FROM due WHERE c.id = due.id
                     RETURNING c.id, c.account_id, c.event_id, c.body, c.attempts
                 )
                 SELECT l.id, l.account_id, l.event_id, l.body, l.attempts,
                        a.callback_url, a.callback_secret
                 FROM leased l LEFT JOIN service_accounts a ON a.id = l.account_id
                 ORDER BY l.id",
                &[
                    &(now_ms as i64),
                    &(now_ms.saturating_add(lease_ms) as i64),
                    &(limit as i64),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let url: Option<String> = r.get(5);
                let secret: Option<String> = r.get(6);
                DueCallback {
                    id: r.get(0),
                    account: r.get(1),
                    event_id: r.get(2),
                    body: r.get(3),
                    attempts: r.get::<_, i32>(4) as u32,
                    target: match (url, secret) {
                        (Some(url), Some(secret)) => Some(CallbackTarget { url, secret }),
                        _ => None,
                    },
                }
            })
            .collect())
    }

    async fn callback_delivered(&self, id: i64, now_ms: u64) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "UPDATE callbacks SET delivered_ms = $2, attempts = attempts + 1, last_error = NULL
                 WHERE id = $1",
                &[&id, &(now_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn callback_failed(
        &self,
        id: i64,
        next_ms: Option<u64>,
        error: String,
    ) -> Result<(), StorageError> {
        let next = next_ms.map_or(i64::MAX, |n| n as i64);
        self.client()
            .await?
            .execute(
                "UPDATE callbacks SET attempts = attempts + 1, next_ms = $2, last_error = $3
                 WHERE id = $1",
                &[&id, &next, &error],
            )
            .await?;
        Ok(())
    }

    async fn callback_counts(&self, account: Id) -> Result<(u64, u64), StorageError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FILTER (WHERE delivered_ms IS NULL),
                        count(*) FILTER (WHERE delivered_ms IS NOT NULL)
                 FROM callbacks WHERE account_id = $1",
                &[&account],
            )
            .await?;
        Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
    }
}

impl AuditStorage for PgStorage {
    async fn append_audit(&self, fact: AuditFact) -> Result<Option<AuditEntry>, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One append at a time across every process: the chain has one head.
        tx.batch_execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        if let Some(fid) = &fact.fact_id {
            let seen = tx
                .query_opt("SELECT 1 FROM audit_log WHERE fact_id = $1", &[fid])
                .await?;
            if seen.is_some() {
                return Ok(None);
            }
        }
        let last = tx
            .query_opt(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await?
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)));
        let entry = AuditEntry::next(last.as_ref().map(|(s, h)| (*s, h.as_str())), fact);
        tx.execute(
            "INSERT INTO audit_log (seq, at_ms, actor, action, target_kind, target_id, reason,
                                    fact_id, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &(entry.seq as i64),
                &(entry.fact.at_ms as i64),
                &entry.fact.actor,
                &entry.fact.action.as_str(),
                &entry.fact.target_kind,
                &entry.fact.target_id,
                &entry.fact.reason,
                &entry.fact.fact_id,
                &entry.prev_hash,
                &entry.hash,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(entry))
    }

    async fn audit_entries(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT seq, at_ms, actor, action, target_kind, target_id, reason, fact_id,
                        prev_hash, hash
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&(after as i64), &(limit as i64)],
            )
            .await?;
        rows.iter().map(decode_audit).collect()
    }

    /// The filter in SQL: only the entries picked are read, newest first up to the limit.
    async fn find_audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, StorageError> {
        let time = |ms: Option<u64>| ms.map(|m| m.min(i64::MAX as u64) as i64);
        let action = filter.action.map(|a| a.as_str().to_string());
        let (since, until, before) = (
            time(filter.since_ms),
            time(filter.until_ms),
            time(filter.before_seq),
        );
        let limit = filter.sql_limit();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT seq, at_ms, actor, action, target_kind, target_id, reason, fact_id,
                        prev_hash, hash
                 FROM audit_log
                 WHERE ($1::text IS NULL OR target_id = $1)
                   AND ($2::text IS NULL OR strpos(actor, $2) > 0)
                   AND ($3::text IS NULL OR action = $3)
                   AND ($4::bigint IS NULL OR at_ms >= $4)
                   AND ($5::bigint IS NULL OR at_ms < $5)
                   AND ($6::bigint IS NULL OR seq < $6)
                 ORDER BY seq DESC LIMIT $7",
                &[
                    &filter.target_id,
                    &filter.actor,
                    &action,
                    &since,
                    &until,
                    &before,
                    &limit,
                ],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(decode_audit)
            .collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }
}
