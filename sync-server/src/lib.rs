//! `gridwork-server`: the sync server. Devices push the operations of their outbox, pull the
//! operations of others after a cursor (long polling while they wait for news), and bootstrap
//! from snapshot pages of the current state. The protocol is `docs/sync-protocol.md`; its wire
//! types live in [`gridwork_domain::sync`], shared with the device.
//!
//! - [`rules`]: pure decisions: whether a pushed operation is admitted ([`rules::admit`]),
//!   everything a push stores ([`rules::plan`]: place, moves, scope buckets) and what each
//!   reader receives ([`rules::reading`]). No I/O, tested without a database.
//! - [`auth`]: bearer tokens and one-time enrollment codes (random, kept only as SHA-256 hashes).
//! - [`storage`]: the one [`storage::Storage`] trait (operation log, materialized records, case
//!   events, users, devices), its SQLite backend (the embedded default) and its PostgreSQL
//!   backend (several server processes on one database; `docs/deploy.md`).
//! - [`http`]: the axum router: `/healthz`, `/readyz`, `/v1/enroll`, `/v1/push`, `/v1/pull`,
//!   `/v1/snapshot`, with one mapping of every error to a JSON [`ErrorBody`]; every body read
//!   against a limit of its endpoint's own.
//! - [`server`]: start the router on a listener (plain HTTP or TLS with rustls) with a
//!   connection cap and timeouts, get its address, shut it down.
//! - [`metrics`]: Prometheus metrics on an address of their own.
//! - [`cli`]: the `gridwork-server` command line (`serve`, `import`, `area …`, `admin …`).
//! - [`operator`]: the server's own operator, whose changes (an import, a redrawn grid) go
//!   through the same push planner as a phone's, and the [`operator::Directory`] it names
//!   records by (area codes, address codes, station names, ID numbers).
//! - [`console`]: the command centre's web console under `/console` (sign-in, the live
//!   supervision board, case steps, the weekly brief), server-rendered HTML.
//! - [`device_status`]: what each phone reports of its sync (last sync, unsynced count),
//!   noted in memory and written behind for the console's list of phones.
//! - [`import`]: a subdistrict's base data from CSV and XLSX files, every row checked by the
//!   domain's rules, refused rows reported (`docs/import.md`).
//!
//! Starting a server in-process on a free port, with a fresh SQLite file:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use gridwork_domain::sync::Role;
//! use gridwork_server::storage::{SqliteStorage, Storage};
//!
//! let storage = Arc::new(SqliteStorage::open("server.db")?);
//! let user = storage.create_user("张伟".into(), Role::Gridworker, vec![]).await?;
//! let code = storage.create_enrollment_code(user.id, gridwork_server::clock::now_ms()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = gridwork_server::serve(listener, storage).await?;
//! println!("enroll at {} with code {code}", server.url());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! [`ErrorBody`]: gridwork_domain::sync::ErrorBody

pub mod audit;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod clock;
pub mod console;
pub mod device_status;
pub mod http;
pub mod import;
pub mod intake;
pub mod metrics;
pub mod operator;
pub mod rules;
pub mod server;
pub mod storage;

pub use server::{ServerHandle, ServerOptions, serve, serve_with, serve_with_clock};
