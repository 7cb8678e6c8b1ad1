//! The one way to open the PostgreSQL database: parse the URL, build the connection pool, check
//! that the server answers, and bring the schema up to date with numbered migrations applied in
//! one transaction (version tracked in `schema_version`), a database from a newer server refused.
//! Same shape as the SQLite backend's `open.rs`.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{
    Client, GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
    Timeouts,
};
use gridwork_domain::scope::{Place, filed_under, filed_under_move};
use tokio_postgres::{Config, NoTls};

use crate::clock;
use crate::storage::StorageError;

/// The numbered migrations, in order; migration `i` (1-based) brings the schema to version `i`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_oplog_and_accounts",
        include_str!("../../../migrations/postgres/001_oplog_and_accounts.sql"),
    ),
    (
        "002_alarm_responders",
        include_str!("../../../migrations/postgres/002_alarm_responders.sql"),
    ),
    (
        "003_scope_buckets_and_log_positions",
        include_str!("../../../migrations/postgres/003_scope_buckets_and_log_positions.sql"),
    ),
    (
        "004_intake_and_audit",
        include_str!("../../../migrations/postgres/004_intake_and_audit.sql"),
    ),
    (
        "005_console",
        include_str!("../../../migrations/postgres/005_console.sql"),
    ),
    (
        "006_device_status",
        include_str!("../../../migrations/postgres/006_device_status.sql"),
    ),
    (
        "007_blobs",
        include_str!("../../../migrations/postgres/007_blobs.sql"),
    ),
    (
        "008_record_blob_refs",
        include_str!("../../../migrations/postgres/008_record_blob_refs.sql"),
    ),
    (
        "009_records_updated_in_place",
        include_str!("../../../migrations/postgres/009_records_updated_in_place.sql"),
    ),
];

/// The version that added scope buckets: upgrading to it files what was stored before.
const BUCKETS_VERSION: i32 = 3;

/// The schema version this build writes.
pub fn latest_version() -> i32 {
    MIGRATIONS.len() as i32
}

/// Connections one server process keeps at most (besides the one listening for
/// notifications). Requests wait for a free one; see `docs/deploy.md` for sizing
/// `max_connections` on the PostgreSQL side.
pub const POOL_SIZE: usize = 16;

/// How long a request waits for a free connection, or for a new one to be made, before it is
/// answered 503.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// The advisory lock key migrations take (`pg_advisory_xact_lock`), so that several processes
/// starting at once migrate once: ASCII "gridwork", plus one. It is per database: deployments
/// sharing one database in different schemas contend for it, which is correct, only slower.
/// (Pushes lock records by keys derived from their ids: `locks.rs`.)
const MIGRATION_LOCK: i64 = 0x6772_6964_776f_726b + 1;

/// What every session of the server sets (ADR 0051). The server's statements are short and
/// prepared once per connection:
/// - `jit=off`: PostgreSQL compiles a plan with LLVM when its *estimated* cost passes
///   `jit_above_cost`, and the estimate of a statement over an array of a few hundred ids (a
///   push's records, the records above them) passes it although it reads a few hundred rows by
///   index: measured, a push's ancestor read took 40 ms with JIT and 12 ms without.
/// - `plan_cache_mode=force_generic_plan`: a prepared statement is planned once, not at every
///   call. PostgreSQL kept planning the pull's statement anew at every call (its generic plan's
///   estimate looks worse than a custom one), which was two thirds of a pull's time in the
///   database (0.39 of 0.62 ms). Every statement of the server reads by index ranges or keys,
///   which a generic plan serves as well.
pub const SESSION_SETTINGS: &str = "-c jit=off -c plan_cache_mode=force_generic_plan";

/// A parsed `postgres://` URL, and how to name its server in messages without the password.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    /// `user@host:port/database`.
    pub name: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config's Debug hides the password too; the name is shorter.
        f.debug_tuple("Target").field(&self.name).finish()
    }
}

impl Target {
    /// Parses a URL (`postgres://user:password@host:port/database?options`) or a libpq
    /// key=value string. A connect timeout of 10 s applies unless the URL sets one.
    pub fn parse(url: &str) -> Result<Target, StorageError> {
        let mut config = Config::from_str(url).map_err(|e| {
            StorageError::BadUrl(format!(
                "{e}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("gridwork-server");
        }
        // The URL's own `options` come after ours, so a deployment can still set either.
        let options = match config.get_options() {
            Some(own) if !own.trim().is_empty() => format!("{SESSION_SETTINGS} {own}"),
            _ => SESSION_SETTINGS.to_string(),
        };
        config.options(&options);
        let name = describe(&config);
        Ok(Target { config, name })
    }

    /// An [`StorageError::Unreachable`] naming this server.
    pub fn unreachable(&self, reason: impl std::fmt::Display) -> StorageError {
        StorageError::Unreachable {
            target: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}

fn describe(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let user = config.get_user().unwrap_or("(default user)");
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{}/{db}", hosts.join(","))
}

/// Builds the pool, checks the server answers, and migrates.
pub async fn open_pool(target: &Target, size: usize) -> Result<Pool, StorageError> {
    let manager = Manager::from_config(
        target.config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(POOL_WAIT),
            create: Some(POOL_WAIT),
            recycle: Some(POOL_WAIT),
        })
        .build()
        .map_err(|e| target.unreachable(e))?;
    let mut client = get(&pool, target).await?;
    migrate(&mut client).await?;
    Ok(pool)
}

/// A pooled connection; a server that does not answer is [`StorageError::Unreachable`].
pub async fn get(pool: &Pool, target: &Target) -> Result<Client, StorageError> {
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => target.unreachable(e),
        PoolError::Timeout(_) => target.unreachable(format!(
            "no connection free or made within {} s",
            POOL_WAIT.as_secs()
        )),
        other => target.unreachable(other),
    })
}

/// Applies the missing migrations in one transaction, under an advisory lock so that several
/// server processes starting at once migrate once.
pub async fn migrate(client: &mut Client) -> Result<(), StorageError> {
    migrate_to(client, latest_version()).await
}

/// [`migrate`], stopping at schema version `target` (tests make an old server's database with
/// it). A database already past `target` is left alone; one past [`latest_version`] is refused.
pub async fn migrate_to(client: &mut Client, target: i32) -> Result<(), StorageError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    integer PRIMARY KEY,
             name       text    NOT NULL,
             applied_ms bigint  NOT NULL
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .get(0);
    if current > latest_version() {
        return Err(StorageError::NewerSchema {
            found: current.into(),
            supported: latest_version().into(),
        });
    }
    let wanted = MIGRATIONS.iter().enumerate().take(target.max(0) as usize);
    for (i, (name, sql)) in wanted.skip(current as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)",
            &[&(i as i32 + 1), name, &(clock::now_ms() as i64)],
        )
        .await?;
        if i as i32 + 1 == BUCKETS_VERSION {
            backfill_buckets(&tx).await?;
        }
    }
    if current.max(target) >= BUCKETS_VERSION {
        keep_positions_ahead(&tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Files every stored operation and record under the buckets of the places an older server
/// kept (the upgrade to [`BUCKETS_VERSION`]), in batches, logging progress on a large log.
async fn backfill_buckets(tx: &impl GenericClient) -> Result<(), StorageError> {
    const BATCH: i64 = 5_000;
    let file_ops = tx
        .prepare("INSERT INTO op_buckets (bucket, seq) SELECT * FROM unnest($1::bytea[], $2::int8[]) ON CONFLICT DO NOTHING")
        .await?;
    let mut after = i64::MIN;
    let mut filed = 0usize;
    loop {
        let rows = tx
            .query(
                "SELECT seq, place, prior FROM ops WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &BATCH],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let (mut keys, mut seqs) = (Vec::new(), Vec::new());
        for row in &rows {
            let place: Option<Place> = row
                .get::<_, Option<&str>>(1)
                .map(serde_json::from_str)
                .transpose()?;
            let prior: Option<Place> = row
                .get::<_, Option<&str>>(2)
                .map(serde_json::from_str)
                .transpose()?;
            let Some(place) = place else { continue };
            for bucket in filed_under_move(&place, prior.as_ref()) {
                keys.push(bucket.to_bytes().to_vec());
                seqs.push(row.get::<_, i64>(0));
            }
        }
        tx.execute(&file_ops, &[&keys, &seqs]).await?;
        filed += rows.len();
        if filed % 100_000 < BATCH as usize {
            tracing::info!(operations = filed, "filing the log under scope buckets");
        }
    }
    let file_records = tx
        .prepare("INSERT INTO record_buckets (bucket, id) SELECT * FROM unnest($1::bytea[], $2::uuid[]) ON CONFLICT DO NOTHING")
        .await?;
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let rows = tx
            .query(
                "SELECT id, place FROM records WHERE ($1::uuid IS NULL OR id > $1) AND place IS NOT NULL ORDER BY id LIMIT $2",
                &[&after, &BATCH],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.get(0));
        let (mut keys, mut ids) = (Vec::new(), Vec::new());
        for row in &rows {
            let place: Place = serde_json::from_str(row.get::<_, &str>(1))?;
            for bucket in filed_under(&place) {
                keys.push(bucket.to_bytes().to_vec());
                ids.push(row.get::<_, uuid::Uuid>(0));
            }
        }
        tx.execute(&file_records, &[&keys, &ids]).await?;
    }
    Ok(())
}

/// Keeps every new log position above every stored one. Positions grow with transaction ids;
/// a database restored into another PostgreSQL cluster, whose ids start lower, would otherwise
/// hand out positions below the cursors phones hold. Run at every start, under the migration
/// lock.
async fn keep_positions_ahead(tx: &impl GenericClient) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE log_position SET base = greatest(base,
             (SELECT coalesce(max(seq), 0) + 1 FROM ops)
             - (pg_current_xact_id()::text::bigint << 16))",
        &[],
    )
    .await?;
    Ok(())
}

/// The schema version stored in the database (0 before the first migration).
pub async fn schema_version(client: &Client) -> Result<i32, StorageError> {
    Ok(client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_named_without_its_password() {
        let t = Target::parse("postgres://gridwork:s3cret@db.internal:5433/city").unwrap();
        assert_eq!(t.name, "gridwork@db.internal:5433/city");
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = t.unreachable("connection refused").to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("db.internal:5433/city"), "{err}");
    }

    #[test]
    fn a_bad_url_is_refused_with_the_expected_shape() {
        let err = Target::parse("postgres://host:notaport/db").unwrap_err();
        assert!(matches!(err, StorageError::BadUrl(_)), "{err:?}");
        assert!(err.to_string().contains("postgres://USER"), "{err}");
    }

    #[test]
    fn the_session_settings_come_before_the_url_s_own_options() {
        let t = Target::parse("postgres://u@h/db").unwrap();
        assert_eq!(t.config.get_options(), Some(SESSION_SETTINGS));
        let t = Target::parse("postgres://u@h/db?options=-csearch_path%3Dcity").unwrap();
        assert_eq!(
            t.config.get_options(),
            Some(format!("{SESSION_SETTINGS} -csearch_path=city").as_str())
        );
    }

    #[test]
    fn the_migrations_are_numbered_in_order() {
        for (i, (name, _)) in MIGRATIONS.iter().enumerate() {
            assert!(name.starts_with(&format!("{:03}_", i + 1)), "{name}");
        }
    }
}
