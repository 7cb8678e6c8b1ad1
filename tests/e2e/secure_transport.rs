//! The device and the server over TLS and under rate limits: phones sync over HTTPS with a
//! private CA they were given; a phone that does not trust the server's certificate refuses it
//! with a clear error; a phone told to slow down (429) waits as long as it was told and then
//! finishes its sync.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use gridwork_core::sync::transport::Sized;
use gridwork_core::{
    Gridwork, HttpTransport, OpenOptions, RetryPolicy, SyncError, Transport, TransportError,
};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel};
use gridwork_domain::sync::*;
use gridwork_server::ServerOptions;
use gridwork_server::http::{RateLimit, RateLimits};
use gridwork_server::server::tls_config;
use gridwork_server::storage::{SqliteStorage, Storage};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::time::Instant;

/// A CA made for the test and the server certificate it signed (for 127.0.0.1), in PEM files.
struct Pki {
    ca_pem: String,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Pki {
            ca_pem: ca.pem(),
            dir,
        }
    }
}

/// A server with `options` over a fresh database, and a way to make enrollment codes.
struct Server {
    handle: gridwork_server::ServerHandle,
    storage: Arc<SqliteStorage>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(options: ServerOptions) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handle = gridwork_server::serve_with(listener, storage.clone(), options)
            .await
            .unwrap();
        Server {
            handle,
            storage,
            _dir: dir,
        }
    }

    async fn code(&self, name: &str) -> String {
        let user = self
            .storage
            .create_user(name.into(), Role::Admin, vec![])
            .await
            .unwrap();
        self.storage
            .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
            .await
            .unwrap()
    }
}

fn phone() -> Gridwork {
    Gridwork::open_in_memory(OpenOptions::default()).unwrap()
}

fn district(gw: &Gridwork, code: &str) -> Area {
    gw.create(Area {
        id: uuid::Uuid::nil(),
        level: AreaLevel::District,
        code: code.into(),
        name: "西湖区".into(),
        parent_id: None,
        response_policies: vec![],
    })
    .unwrap()
}

#[tokio::test]
async fn phones_sync_over_tls_and_refuse_a_server_they_do_not_trust() {
    let pki = Pki::new();
    let tls = tls_config(
        &pki.dir.path().join("cert.pem"),
        &pki.dir.path().join("key.pem"),
    )
    .unwrap();
    let server = Server::start(ServerOptions {
        tls: Some(tls),
        ..ServerOptions::default()
    })
    .await;
    let url = server.handle.url();
    assert!(url.starts_with("https://"), "{url}");

    // Two gridworkers' phones, given the deployment's CA, enroll and sync over HTTPS.
    let a = phone();
    let a_net = HttpTransport::with_extra_ca(&url, None, pki.ca_pem.as_bytes()).unwrap();
    a.enroll(&a_net, &server.code("张伟").await, "张伟的手机")
        .await
        .unwrap();
    let area = district(&a, "330106");
    a.sync_now(&a_net).await.unwrap();
    let b = phone();
    let b_net = HttpTransport::with_extra_ca(&url, None, pki.ca_pem.as_bytes()).unwrap();
    b.enroll(&b_net, &server.code("李娜").await, "李娜的手机")
        .await
        .unwrap();
    b.sync_now(&b_net).await.unwrap();
    assert_eq!(b.get::<Area>(area.id).unwrap().name, "西湖区");
    assert_eq!(a.state_digest().unwrap(), b.state_digest().unwrap());

    // A phone with only the public roots, and one given another CA, refuse the certificate:
    // a clear, non-retryable TLS error, and nothing was sent (the code still works).
    let code = server.code("王芳").await;
    let other_ca = Pki::new().ca_pem;
    for net in [
        HttpTransport::new(&url, None).unwrap(),
        HttpTransport::with_extra_ca(&url, None, other_ca.as_bytes()).unwrap(),
    ] {
        let c = phone();
        let err = c.enroll(&net, &code, "王芳的手机").await.unwrap_err();
        let SyncError::Transport(TransportError::Tls(reason)) = &err else {
            panic!("expected a TLS error, got {err:?}");
        };
        assert!(reason.contains("certificate"), "{reason}");
        assert!(!err.is_retryable());
        assert!(
            err.to_string().starts_with("the secure connection"),
            "{err}"
        );
    }
    let c = phone();
    c.enroll(&a_net, &code, "王芳的手机").await.unwrap();

    // A file that holds no certificate is refused when the transport is made.
    let err = HttpTransport::with_extra_ca(&url, None, b"not a certificate").unwrap_err();
    assert!(matches!(err, TransportError::Tls(_)), "{err:?}");
}

#[tokio::test]
async fn a_phone_speaking_tls_to_a_plain_server_gets_a_tls_error() {
    let server = Server::start(ServerOptions::default()).await;
    let https = server.handle.url().replacen("http://", "https://", 1);
    let gw = phone();
    let net = HttpTransport::with_extra_ca(&https, None, Pki::new().ca_pem.as_bytes()).unwrap();
    let err = gw.enroll(&net, "K7QM-2XWD-9HTR", "手机").await.unwrap_err();
    assert!(
        matches!(err, SyncError::Transport(TransportError::Tls(_))),
        "{err:?}"
    );
}

/// The real transport, noting every 429 and when the next request went out.
struct Watching<'a> {
    inner: &'a HttpTransport,
    log: Mutex<Vec<(Instant, Option<u64>)>>,
}

impl Watching<'_> {
    fn note<T>(&self, r: &Result<T, TransportError>) {
        let asked = match r {
            Err(TransportError::RateLimited { retry_after_s, .. }) => Some(*retry_after_s),
            _ => None,
        };
        self.log.lock().unwrap().push((Instant::now(), asked));
    }
}

impl Transport for Watching<'_> {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        let r = self.inner.enroll(req).await;
        self.note(&r);
        r
    }

    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        let r = self.inner.push(req).await;
        self.note(&r);
        r
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let r = self.inner.pull(after, limit, wait_s).await;
        self.note(&r);
        r
    }

    async fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let r = self.inner.snapshot(after, limit).await;
        self.note(&r);
        r
    }

    fn set_token(&self, token: Option<String>) {
        self.inner.set_token(token)
    }
}

#[tokio::test]
async fn a_phone_told_to_slow_down_waits_as_told_and_then_finishes_its_sync() {
    // Two requests at once, then one a second: a first sync (snapshot, push, pull) hits 429.
    let server = Server::start(ServerOptions {
        rate_limits: RateLimits {
            device: Some(RateLimit::new(2, 60.0)),
            enroll: None,
        },
        ..ServerOptions::default()
    })
    .await;
    let gw = phone();
    let http = HttpTransport::new(&server.handle.url(), None).unwrap();
    let net = Watching {
        inner: &http,
        log: Mutex::new(Vec::new()),
    };
    gw.enroll(&net, &server.code("张伟").await, "张伟的手机")
        .await
        .unwrap();
    let area = district(&gw, "330106");
    // Backoff alone would retry within milliseconds; only the server's word makes it wait.
    let policy = RetryPolicy {
        max_attempts: 6,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    gw.sync_with_retry(&net, policy).await.unwrap();
    assert_eq!(gw.pending_count().unwrap(), 0);
    assert!(server.storage.record(area.id).await.unwrap().is_some());

    let log = net.log.lock().unwrap().clone();
    let limited: Vec<usize> = (0..log.len()).filter(|&i| log[i].1.is_some()).collect();
    assert!(
        !limited.is_empty(),
        "the sync was rate-limited at least once"
    );
    for i in limited {
        let (at, asked) = log[i];
        let next = log.get(i + 1).expect("a request follows every 429").0;
        assert!(
            next - at >= Duration::from_secs(asked.unwrap()),
            "retried after {:?}, asked to wait {} s",
            next - at,
            asked.unwrap()
        );
    }
}
