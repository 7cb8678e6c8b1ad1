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
        TestServer::start_with(gridwork_server::ServerOptions::default()).await
    }

    /// [`TestServer::start`] with other options (e.g. the networks callbacks may reach).
    pub async fn start_with(options: gridwork_server::ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let storage = Arc::new(SqliteStorage::open(&db).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handle = gridwork_server::serve_with(listener, storage.clone(), options)
            .await
            .unwrap();
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
    /// A new device enrolled as a new user of `role` with `scope` (an admin with an empty
    /// scope holds the whole installation; anyone else with an empty scope, nothing).
    pub async fn enrolled(server: &TestServer, name: &str, role: Role, scope: Vec<Id>) -> Device {
        Device::enrolled_with_skew(server, name, role, scope, 0).await
    }

    /// A new administrator's device (an empty scope: everything) whose wall clock is `skew_ms`
    /// off real time (a year fast: `+YEAR_MS`).
    pub async fn admin(server: &TestServer, name: &str, skew_ms: i64) -> Device {
        Device::enrolled_with_skew(server, name, Role::Admin, vec![], skew_ms).await
    }

    async fn enrolled_with_skew(
        server: &TestServer,
        name: &str,
        role: Role,
        scope: Vec<Id>,
        skew: i64,
    ) -> Device {
        let code = server.user_code(name, role, scope).await;
        Device::enrolled_at(&server.url(), &code, name, skew).await
    }

    /// A new device enrolled with `code` at the server at `url`, its wall clock `skew` ms off
    /// real time.
    pub async fn enrolled_at(url: &str, code: &str, name: &str, skew: i64) -> Device {
        let wall = gridwork_server::clock::now_ms().saturating_add_signed(skew);
        let clock = Arc::new(AtomicU64::new(wall));
        let c = clock.clone();
        let gw = Gridwork::open_in_memory(OpenOptions {
            clock: Arc::new(move || c.load(Ordering::SeqCst)),
            key: None,
            ..OpenOptions::default()
        })
        .unwrap();
        let net = HttpTransport::new(url, None).unwrap();
        gw.enroll(&net, code, &format!("{name}的手机"))
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

/// One year, in ms.
pub const YEAR_MS: u64 = 365 * 24 * 3_600_000;

/// The operator's device (an admin holding the whole installation) that seeded a tiny
/// subdistrict and pushed it: only an admin may create areas.
pub async fn seeded_admin(server: &TestServer, name: &str) -> (Device, Seeded) {
    let d = Device::admin(server, name, 0).await;
    d.sync().await;
    let seeded = seed_subdistrict(&d.gw, 11, SeedSize::TINY, |_, _| {}).unwrap();
    d.sync().await;
    (d, seeded)
}

/// The seeded subdistrict's id: a dispatcher's scope, which holds everything seeded.
pub fn subdistrict(seeded: &Seeded) -> Id {
    seeded
        .subdistrict
        .as_ref()
        .expect("a seeded subdistrict")
        .id
}

/// The server's whole operation log as `net` may read it (an administrator's device sees all).
pub async fn server_log(net: &HttpTransport) -> Vec<gridwork_domain::sync::SequencedOp> {
    use gridwork_core::Transport;
    let mut log = Vec::new();
    let mut after = 0;
    loop {
        let page = net
            .pull(after, gridwork_domain::sync::MAX_PULL_LIMIT, 0)
            .await
            .unwrap()
            .value;
        log.extend(page.ops);
        after = page.next;
        if !page.more {
            return log;
        }
    }
}
