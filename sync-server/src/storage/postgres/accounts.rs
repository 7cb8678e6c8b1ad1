//! Users, one-time enrollment codes and devices. Codes and tokens arrive here already hashed.

use deadpool_postgres::{Client, GenericClient};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::sync::Role;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::auth::{self, enrollment_code::StoredCode};
use crate::clock;
use crate::storage::{DeviceCredentials, DeviceInfo, EnrollError, StorageError, User};

/// Creates a user with a fresh id.
pub async fn create_user(
    client: &mut Client,
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
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO users (id, name, role, scope, created_ms) VALUES ($1, $2, $3, $4, $5)",
        &[
            &user.id,
            &user.name,
            &user.role.as_str(),
            &user.scope,
            &(clock::now_ms() as i64),
        ],
    )
    .await?;
    file_scope(&tx, user.id, &user.scope).await?;
    tx.commit().await?;
    Ok(user)
}

/// Records `scope` as `user`'s scope entries (replacing any before).
async fn file_scope(
    client: &impl GenericClient,
    user: Id,
    scope: &[Id],
) -> Result<(), StorageError> {
    client
        .execute("DELETE FROM scope_entries WHERE user_id = $1", &[&user])
        .await?;
    client
        .execute(
            "INSERT INTO scope_entries (id, user_id) SELECT DISTINCT unnest($2::uuid[]), $1::uuid
             ON CONFLICT DO NOTHING",
            &[&user, &scope],
        )
        .await?;
    Ok(())
}

/// Moves the accounts version on: every cached token check and view is read again.
pub async fn bump_version(client: &impl GenericClient) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached("UPDATE accounts_version SET version = version + 1")
        .await?;
    client.execute(&stmt, &[]).await?;
    Ok(())
}

/// The accounts version (see migration 003).
pub async fn version(client: &impl GenericClient) -> Result<u64, StorageError> {
    let stmt = client
        .prepare_cached("SELECT version FROM accounts_version")
        .await?;
    Ok(client.query_one(&stmt, &[]).await?.get::<_, i64>(0) as u64)
}

/// Moves the accounts version on when any of `ids` is some user's scope entry (one statement).
pub async fn bump_version_if_scope_entry(
    client: &impl GenericClient,
    ids: &[Id],
) -> Result<(), StorageError> {
    let stmt = client
        .prepare_cached(
            "UPDATE accounts_version SET version = version + 1
             WHERE EXISTS (SELECT 1 FROM scope_entries WHERE id = ANY($1))",
        )
        .await?;
    client.execute(&stmt, &[&ids]).await?;
    Ok(())
}
/// A user by id.
pub async fn user(client: &impl GenericClient, id: Id) -> Result<Option<User>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT id, name, role, scope FROM users WHERE id = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.map(|r| decode_user(&r, 0)).transpose()
}

/// Every user, by id (ids are time-ordered: oldest first).
pub async fn users(client: &impl GenericClient) -> Result<Vec<User>, StorageError> {
    let stmt = client
        .prepare_cached("SELECT id, name, role, scope FROM users ORDER BY id")
        .await?;
    let rows = client.query(&stmt, &[]).await?;
    rows.iter().map(|r| decode_user(r, 0)).collect()
}

/// Replaces a user's scope; `false` when there is no such user.
pub async fn set_user_scope(
    client: &mut Client,
    id: Id,
    scope: &[Id],
) -> Result<bool, StorageError> {
    let tx = client.transaction().await?;
    let n = tx
        .execute("UPDATE users SET scope = $2 WHERE id = $1", &[&id, &scope])
        .await?;
    if n == 1 {
        file_scope(&tx, id, scope).await?;
        bump_version(&tx).await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// The user in the four columns `id, name, role, scope` starting at `first`.
fn decode_user(row: &Row, first: usize) -> Result<User, StorageError> {
    let role: &str = row.get(first + 2);
    Ok(User {
        id: row.get(first),
        name: row.get(first + 1),
        role: Role::parse(role)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown role {role:?}")))?,
        scope: row.get(first + 3),
    })
}

/// Stores a code's hash.
pub async fn store_code(
    client: &Client,
    code_hash: &str,
    user: Id,
    expires_ms: u64,
) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO enrollment_codes (code_hash, user_id, expires_ms) VALUES ($1, $2, $3)",
            &[&code_hash, &user, &(expires_ms as i64)],
        )
        .await?;
    Ok(())
}

/// Redeems a code for a device, in one transaction. Two phones racing for one code: the code's
/// row is locked (`FOR UPDATE`), so the second sees it used. Two codes racing for one device
/// id: the second insert hits the primary key.
pub async fn redeem(
    client: &mut Client,
    code_hash: &str,
    device: DeviceId,
    device_name: &str,
    token_hash: &str,
    now_ms: u64,
) -> Result<User, EnrollError> {
    let tx = client.transaction().await.map_err(db)?;
    let code = tx
        .query_opt(
            "SELECT user_id, expires_ms, used_ms FROM enrollment_codes WHERE code_hash = $1
             FOR UPDATE",
            &[&code_hash],
        )
        .await
        .map_err(db)?;
    let code = code.map(|row| StoredCode {
        user: row.get(0),
        expires_ms: row.get::<_, i64>(1).max(0) as u64,
        used: row.get::<_, Option<i64>>(2).is_some(),
    });
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE id = $1)",
            &[&device],
        )
        .await
        .map_err(db)?
        .get(0);
    let user_id = auth::enrollment_code::judge(code, device, exists, now_ms)?;
    tx.execute(
        "UPDATE enrollment_codes SET used_ms = $1, device_id = $2 WHERE code_hash = $3",
        &[&(now_ms as i64), &device, &code_hash],
    )
    .await
    .map_err(db)?;
    tx.execute(
        "INSERT INTO devices (id, user_id, name, token_hash, enrolled_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &device,
            &user_id,
            &device_name,
            &token_hash,
            &(now_ms as i64),
        ],
    )
    .await
    .map_err(|e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            EnrollError::DeviceExists(device)
        } else {
            db(e)
        }
    })?;
    let user = user(&tx, user_id)
        .await?
        .ok_or_else(|| StorageError::Corrupt(format!("code for unknown user {user_id}")))?;
    tx.commit().await.map_err(db)?;
    Ok(user)
}

fn db(e: tokio_postgres::Error) -> EnrollError {
    EnrollError::Storage(StorageError::Postgres(e))
}

/// The token hash, revocation and user of a device.
pub async fn credentials(
    client: &Client,
    device: DeviceId,
) -> Result<Option<DeviceCredentials>, StorageError> {
    let stmt = client
        .prepare_cached(
            "SELECT d.token_hash, d.revoked_ms IS NOT NULL, u.id, u.name, u.role, u.scope
             FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&device]).await? else {
        return Ok(None);
    };
    Ok(Some(DeviceCredentials {
        token_hash: row.get(0),
        revoked: row.get(1),
        user: decode_user(&row, 2)?,
    }))
}

/// Marks a device revoked (keeping the first revocation time).
pub async fn revoke(
    client: &mut Client,
    device: DeviceId,
    now_ms: u64,
) -> Result<bool, StorageError> {
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE devices SET revoked_ms = coalesce(revoked_ms, $1) WHERE id = $2",
            &[&(now_ms as i64), &device],
        )
        .await?;
    if n > 0 {
        bump_version(&tx).await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// Every device, oldest first.
pub async fn list_devices(client: &Client) -> Result<Vec<DeviceInfo>, StorageError> {
    let rows = client
        .query(
            "SELECT id, user_id, name, enrolled_ms, revoked_ms FROM devices
             ORDER BY enrolled_ms, id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DeviceInfo {
            id: r.get(0),
            user_id: r.get(1),
            name: r.get(2),
            enrolled_ms: r.get::<_, i64>(3) as u64,
            revoked_ms: r.get::<_, Option<i64>>(4).map(|m| m as u64),
        })
        .collect())
}
