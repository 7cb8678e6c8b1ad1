//! Fresh databases for tests and benchmarks: [`ScratchDatabase`] makes one with a unique name on
//! a PostgreSQL server and drops it when done, so tests running in parallel never share data.

use tokio_postgres::NoTls;
use uuid::Uuid;

use super::open::Target;
use crate::storage::StorageError;

/// The variable naming the PostgreSQL server the tests use (`./scripts/test.sh` starts one and
/// sets it; `./scripts/test-postgres.sh start` does it by hand).
pub const TEST_DATABASE_URL_VAR: &str = "GRIDWORK_TEST_DATABASE_URL";

/// A database made for one test (or one benchmark run), dropped with it.
#[derive(Debug)]
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Makes a new, empty database on the server of `server_url` (a `postgres://` URL whose
    /// user may create databases); its URL is that one with the database name replaced.
    pub async fn create(server_url: &str) -> Result<ScratchDatabase, StorageError> {
        let name = format!("gridwork_scratch_{}", Uuid::now_v7().simple());
        let mut url = url::Url::parse(server_url).map_err(|e| {
            StorageError::BadUrl(format!(
                "{e}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        url.set_path(&format!("/{name}"));
        let admin = Target::parse(server_url)?;
        let (client, connection) = admin
            .config
            .connect(NoTls)
            .await
            .map_err(|e| admin.unreachable(e))?;
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        drop(client);
        let _ = driver.await;
        Ok(ScratchDatabase {
            server_url: server_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// A new database on the server named by [`TEST_DATABASE_URL_VAR`]. Panics, naming the
    /// variable and how to set it, when it is missing or the server cannot be used: the
    /// PostgreSQL tests fail rather than skip.
    pub async fn for_test() -> ScratchDatabase {
        let server = std::env::var(TEST_DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{TEST_DATABASE_URL_VAR} is not set: the PostgreSQL tests need a server. Run \
                 ./scripts/test.sh (it starts one), or start one with \
                 `eval \"$(./scripts/test-postgres.sh start)\"`, or set {TEST_DATABASE_URL_VAR} \
                 to postgres://USER:PASSWORD@HOST:PORT/postgres (a user who may create databases)"
            )
        });
        ScratchDatabase::create(&server).await.unwrap_or_else(|e| {
            panic!("cannot make a test database with {TEST_DATABASE_URL_VAR}: {e}")
        })
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Vacuums and analyzes every table, as after a bulk load: what autovacuum would bring the
    /// database to in its own time, done now so that a benchmark does not measure its catch-up.
    pub async fn vacuum_analyze(&self) -> Result<(), StorageError> {
        let target = Target::parse(&self.url)?;
        let (client, connection) = target
            .config
            .connect(NoTls)
            .await
            .map_err(|e| target.unreachable(e))?;
        let driver = tokio::spawn(connection);
        client.batch_execute("VACUUM (ANALYZE)").await?;
        drop(client);
        let _ = driver.await;
        Ok(())
    }
}

impl Drop for ScratchDatabase {
    /// Drops the database, ending the connections still open to it. Runs on a thread of its own
    /// (with its own small runtime), so it works from inside or outside an async runtime.
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let admin = Target::parse(&server_url).map_err(|e| e.to_string())?;
                let (client, connection) = admin
                    .config
                    .connect(NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the scratch database {}: {e}", self.name);
        }
    }
}
