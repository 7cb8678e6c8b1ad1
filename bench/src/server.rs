//! A real sync server on loopback for the server scenarios: its storage seeded directly (one
//! push per few thousand operations through [`Storage::push`], the same admission and scope
//! code an HTTP push runs, without HTTP), users and codes, and a byte-counting TCP proxy that
//! tells the bytes that crossed the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gridwork_core::new_id;
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::op::Op;
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::{PushOutcome, Role};
use gridwork_server::http::RateLimits;
use gridwork_server::rules::PushContext;
use gridwork_server::storage::Storage;
use gridwork_server::{ServerHandle, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::dataset::now_ms;

/// Starts the server over `storage` on a free loopback port. Rate limits are off: the load
/// scenario's 200 devices enroll from one address.
pub async fn start<S: Storage>(storage: Arc<S>) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let options = ServerOptions {
        rate_limits: RateLimits::UNLIMITED,
        ..ServerOptions::default()
    };
    gridwork_server::serve_with(listener, storage, options)
        .await
        .expect("the server starts")
}

/// [`start`] with the blob store given (to look into it) and no daily upload quota: the alarm
/// scenario's phone uploads a 20 MB photo every round.
pub async fn start_with_blobs<S: Storage>(
    storage: Arc<S>,
    blobs: gridwork_server::blobs::BlobStore,
) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let options = ServerOptions {
        rate_limits: RateLimits::UNLIMITED,
        blobs,
        blob_limits: gridwork_server::blobs::BlobLimits {
            device_daily_bytes: u64::MAX,
            ..gridwork_server::blobs::BlobLimits::DEFAULT
        },
        ..ServerOptions::default()
    };
    gridwork_server::serve_with(listener, storage, options)
        .await
        .expect("the server starts")
}

/// Stores `ops` (all stamped by `device`) as an administrator's device pushing them would,
/// a few thousand per transaction. Panics if any is refused: the data must be whole.
pub async fn seed<S: Storage>(storage: &S, device: DeviceId, ops: Vec<Op>) -> usize {
    let ctx = PushContext {
        device,
        user: new_id(),
        view: ScopeView::new(Role::Admin, vec![], vec![]),
        now_ms: now_ms(),
    };
    let mut stored = 0;
    let mut ops = ops;
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(5_000));
        let batch = std::mem::replace(&mut ops, rest);
        let results = storage
            .push(ctx.clone(), batch)
            .await
            .expect("the seed is stored");
        for r in &results {
            match &r.outcome {
                PushOutcome::Accepted { .. } => stored += 1,
                other => panic!("a seed operation was refused: {other:?}"),
            }
        }
    }
    stored
}

/// A user of `role` over `scope` and a one-time code for their phone.
pub async fn user_code<S: Storage>(storage: &S, name: &str, role: Role, scope: Vec<Id>) -> String {
    let user = storage
        .create_user(name.into(), role, scope)
        .await
        .expect("the user is created");
    storage
        .create_enrollment_code(user.id, now_ms())
        .await
        .expect("the code is made")
}

/// A TCP proxy on loopback that counts every byte in both directions.
#[derive(Debug, Clone)]
pub struct CountingProxy {
    pub url: String,
    bytes: Arc<AtomicU64>,
}

impl CountingProxy {
    /// Forwards a free port to `target` (`127.0.0.1:PORT`).
    pub async fn start(target: std::net::SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let bytes = Arc::new(AtomicU64::new(0));
        let counter = bytes.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, counter.clone()), pipe(sr, cw, counter.clone()));
                });
            }
        });
        CountingProxy { url, bytes }
    }

    /// Bytes carried so far, both directions.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
