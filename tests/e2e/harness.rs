//! The test harness: a server on a random loopback port, users and enrollment codes, and
//! devices with their own store, transport and hand-moved clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::{Gridwork, HttpTransport, OpenOptions};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::Role;
use gridwork_server::ServerHandle;
use gridwork_server::storage::{SqliteStorage, Storage};

/// A running server and its database file.
pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub storage: Arc<SqliteStorage>,
    pub db: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let storage = Arc::new(SqliteStorage::open(&db).unwrap());
        let handle = serve(storage.clone()).await;
        TestServer {
            handle: Some(handle),
            storage,
            db,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        self.handle.as_ref().unwrap().url()
    }

    /// Stops the server and starts it again on the same database (a new port).
    pub async fn restart(&mut self) {
        self.handle.take().unwrap().shutdown().await.unwrap();
        self.storage = Arc::new(SqliteStorage::open(&self.db).unwrap());
        self.handle = Some(serve(self.storage.clone()).await);
    }

    /// A user with a role and scope, and a one-time code for their device.
    pub async fn user_code(&self, name: &str, role: Role, scope: Vec<Id>) -> String {
        let user = self
            .storage
            .create_user(name.into(), role, scope)
            .await
            .unwrap();
        self.storage
            .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
            .await
            .unwrap()
    }
}

async fn serve(storage: Arc<SqliteStorage>) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    gridwork_server::serve(listener, storage).await.unwrap()
}

/// One phone: its store, its transport, its clock.
pub struct Device {
    pub gw: Gridwork,
    pub net: HttpTransport,
    pub clock: Arc<AtomicU64>,
}

impl Device {
    /// A new device enrolled as a new user of `role` (scope: everything, until scopes land).
    pub async fn enrolled(server: &TestServer, name: &str, role: Role) -> Device {
        let clock = Arc::new(AtomicU64::new(gridwork_server::clock::now_ms()));
        let c = clock.clone();
        let gw = Gridwork::open_in_memory(OpenOptions {
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            key: None,
        })
        .unwrap();
        let net = HttpTransport::new(&server.url(), None).unwrap();
        let code = server.user_code(name, role, vec![]).await;
        gw.enroll(&net, &code, &format!("{name}的手机"))
            .await
            .unwrap();
        Device { gw, net, clock }
    }

    /// Points the device at a server that moved (after a restart on a new port).
    pub fn reconnect(&mut self, server: &TestServer) {
        self.net = HttpTransport::new(&server.url(), self.gw.token().unwrap()).unwrap();
    }

    pub fn advance_ms(&self, ms: u64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub async fn sync(&self) -> gridwork_core::SyncReport {
        self.gw.sync_now(&self.net).await.unwrap()
    }
}

/// A gridworker's device that seeded a tiny subdistrict and pushed it.
pub async fn seeded_gridworker(server: &TestServer, name: &str) -> (Device, Seeded) {
    let d = Device::enrolled(server, name, Role::Gridworker).await;
    d.sync().await;
    let seeded = seed_subdistrict(&d.gw, 11, SeedSize::TINY, |_, _| {}).unwrap();
    d.sync().await;
    (d, seeded)
}
