//! Users, one-time enrollment codes and devices. Codes and tokens arrive here already hashed.

use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::sync::Role;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use crate::auth::{self, enrollment_code::StoredCode};
use crate::clock;
use crate::storage::{DeviceCredentials, DeviceInfo, EnrollError, StorageError, User};

/// Creates a user with a fresh id.
pub fn create_user(
    conn: &mut Connection,
    name: String,
    role: Role,
    scope: Vec<Id>,
) -> Result<User, StorageError> {
    let user = User {
        id: Uuid::now_v7(),
        name,
        role,
        scope,
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO users (id, name, role, scope, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            user.id.to_string(),
            user.name,
            user.role.as_str(),
            serde_json::to_string(&user.scope)?,
            clock::now_ms() as i64
        ],
    )?;
    file_scope(&tx, user.id, &user.scope)?;
    tx.commit()?;
    Ok(user)
}

/// Records `scope` as `user`'s scope entries (replacing any before).
fn file_scope(conn: &Connection, user: Id, scope: &[Id]) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM scope_entries WHERE user_id = ?1",
        [user.to_string()],
    )?;
    for id in scope {
        conn.execute(
            "INSERT OR IGNORE INTO scope_entries (id, user_id) VALUES (?1, ?2)",
            params![id.to_string(), user.to_string()],
        )?;
    }
    Ok(())
}

/// Moves the accounts version on: every cached token check and view is read again.
pub fn bump_version(conn: &Connection) -> Result<(), StorageError> {
    conn.prepare_cached("UPDATE accounts_version SET version = version + 1")?
        .execute([])?;
    Ok(())
}

/// The accounts version (see migration 004).
pub fn version(conn: &Connection) -> Result<u64, StorageError> {
    let v: i64 = conn
        .prepare_cached("SELECT version FROM accounts_version")?
        .query_row([], |r| r.get(0))?;
    Ok(v as u64)
}

/// Whether any of `ids` is some user's scope entry.
pub fn any_scope_entry(conn: &Connection, ids: &[Id]) -> Result<bool, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM scope_entries WHERE id = ?1)")?;
    for id in ids {
        if stmt.query_row([id.to_string()], |r| r.get::<_, bool>(0))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A user by id.
pub fn user(conn: &mut Connection, id: Id) -> Result<Option<User>, StorageError> {
    let row = conn
        .prepare_cached("SELECT id, name, role, scope FROM users WHERE id = ?1")?
        .query_row([id.to_string()], user_columns)
        .optional()?;
    row.map(decode_user).transpose()
}

/// Every user, oldest first.
pub fn users(conn: &mut Connection) -> Result<Vec<User>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT id, name, role, scope FROM users ORDER BY id")?;
    let rows = stmt
        .query_map([], user_columns)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(decode_user).collect()
}

/// Replaces a user's scope; `false` when there is no such user.
pub fn set_user_scope(conn: &mut Connection, id: Id, scope: &[Id]) -> Result<bool, StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE users SET scope = ?2 WHERE id = ?1",
        params![id.to_string(), serde_json::to_string(scope)?],
    )?;
    if n == 1 {
        file_scope(&tx, id, scope)?;
        bump_version(&tx)?;
    }
    tx.commit()?;
    Ok(n == 1)
}

type UserColumns = (String, String, String, String);

fn user_columns(r: &Row<'_>) -> rusqlite::Result<UserColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode_user((id, name, role, scope): UserColumns) -> Result<User, StorageError> {
    Ok(User {
        id: parse_id(&id)?,
        name,
        role: Role::parse(&role)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown role {role:?}")))?,
        scope: serde_json::from_str(&scope)?,
    })
}

fn parse_id(s: &str) -> Result<Id, StorageError> {
    Uuid::try_parse(s).map_err(|_| StorageError::Corrupt(format!("bad id {s:?}")))
}

/// Stores a code's hash.
pub fn store_code(
    conn: &mut Connection,
    code_hash: &str,
    user: Id,
    expires_ms: u64,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO enrollment_codes (code_hash, user_id, expires_ms) VALUES (?1, ?2, ?3)",
        params![code_hash, user.to_string(), expires_ms as i64],
    )?;
    Ok(())
}

/// Redeems a code for a device, in one transaction (two phones racing for one code: one wins).
pub fn redeem(
    conn: &mut Connection,
    code_hash: &str,
    device: DeviceId,
    device_name: &str,
    token_hash: &str,
    now_ms: u64,
) -> Result<User, EnrollError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let code: Option<(String, i64, Option<i64>)> = tx
        .query_row(
            "SELECT user_id, expires_ms, used_ms FROM enrollment_codes WHERE code_hash = ?1",
            [code_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db)?;
    let code = code
        .map(|(user_id, expires_ms, used_ms)| {
            Ok::<_, StorageError>(StoredCode {
                user: parse_id(&user_id)?,
                expires_ms: expires_ms.max(0) as u64,
                used: used_ms.is_some(),
            })
        })
        .transpose()?;
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1)",
            [device.to_string()],
            |r| r.get(0),
        )
        .map_err(db)?;
    let user_id = auth::enrollment_code::judge(code, device, exists, now_ms)?.to_string();
    tx.execute(
        "UPDATE enrollment_codes SET used_ms = ?1, device_id = ?2 WHERE code_hash = ?3",
        params![now_ms as i64, device.to_string(), code_hash],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![device.to_string(), user_id, device_name, token_hash, now_ms as i64],
    )
    .map_err(db)?;
    let user = tx
        .query_row(
            "SELECT id, name, role, scope FROM users WHERE id = ?1",
            [&user_id],
            user_columns,
        )
        .map_err(db)?;
    let user = decode_user(user)?;
    tx.commit().map_err(db)?;
    Ok(user)
}

fn db(e: rusqlite::Error) -> EnrollError {
    EnrollError::Storage(StorageError::Sqlite(e))
}

/// The token hash, revocation and user of a device.
pub fn credentials(
    conn: &mut Connection,
    device: DeviceId,
) -> Result<Option<DeviceCredentials>, StorageError> {
    let row = conn
        .prepare_cached(
            "SELECT d.token_hash, d.revoked_ms IS NOT NULL, u.id, u.name, u.role, u.scope
             FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1",
        )?
        .query_row([device.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .optional()?;
    let Some((token_hash, revoked, user)) = row else {
        return Ok(None);
    };
    Ok(Some(DeviceCredentials {
        token_hash,
        revoked,
        user: decode_user(user)?,
    }))
}

/// Marks a device revoked (keeping the first revocation time).
pub fn revoke(conn: &mut Connection, device: DeviceId, now_ms: u64) -> Result<bool, StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE devices SET revoked_ms = coalesce(revoked_ms, ?1) WHERE id = ?2",
        params![now_ms as i64, device.to_string()],
    )?;
    if n > 0 {
        bump_version(&tx)?;
    }
    tx.commit()?;
    Ok(n > 0)
}

/// Every device, oldest first.
pub fn list_devices(conn: &mut Connection) -> Result<Vec<DeviceInfo>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, name, enrolled_ms, revoked_ms FROM devices ORDER BY enrolled_ms, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, user_id, name, enrolled_ms, revoked_ms) = row?;
        out.push(DeviceInfo {
            id: parse_id(&id)?,
            user_id: parse_id(&user_id)?,
            name,
            enrolled_ms: enrolled_ms as u64,
            revoked_ms: revoked_ms.map(|m| m as u64),
        });
    }
    Ok(out)
}
