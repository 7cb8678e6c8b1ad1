//! The `gridwork-server` binary: `serve` runs the sync server; `admin ...` manages users,
//! enrollment codes and devices in the same database (safe while servers run: SQLite serialises
//! the writes, PostgreSQL is made for it). Every command takes exactly one of `--db PATH`
//! (SQLite, one server process) and `--database URL` (PostgreSQL, several processes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::Role;
use gridwork_server::http::{RateLimit, RateLimits};
use gridwork_server::storage::{PgStorage, SqliteStorage, Storage};
use gridwork_server::{ServerOptions, clock, server};

#[derive(Debug, Parser)]
#[command(name = "gridwork-server", version, about = "The gridwork sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync protocol.
    ///
    /// With --tls-cert and --tls-key it serves HTTPS (rustls; TLS 1.2 and 1.3) and nothing else
    /// on that port; without them, plain HTTP, for loopback or behind a TLS-terminating proxy
    /// only: tokens and residents' data must never cross a network in clear.
    ///
    /// Every authenticated request takes a token from its device's bucket, every enrollment
    /// attempt one from its client address's bucket; an empty bucket answers 429 with
    /// Retry-After. A limit of 0 per minute switches that limit off.
    #[command(verbatim_doc_comment)]
    Serve {
        #[command(flatten)]
        store: Store,
        /// Address to listen on; port 0 picks a free port (the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// PEM file with the server's certificate, then any intermediates; needs --tls-key.
        #[arg(long, requires = "tls_key", value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
        #[arg(long, requires = "tls_cert", value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// Requests a device may make at once after a quiet spell.
        #[arg(long, default_value_t = 600)]
        device_burst: u32,
        /// Requests a device may make per minute in the long run (0: no limit).
        #[arg(long, default_value_t = 1200.0)]
        device_per_minute: f64,
        /// Enrollment attempts one client address may make at once.
        #[arg(long, default_value_t = 30)]
        enroll_burst: u32,
        /// Enrollment attempts per client address per minute in the long run (0: no limit).
        #[arg(long, default_value_t = 30.0)]
        enroll_per_minute: f64,
    },
    /// Manage users and devices.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Create a user; prints the new user id.
    CreateUser {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        name: String,
        /// gridworker, building_head, fire_crew, dispatcher, mediator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Ids of the areas (buildings, stations) the user works in, comma separated.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<Id>,
    },
    /// Replace a user's scope (a grid redrawn, another building): their devices take the new
    /// scope on their next sync, purging what they may no longer hold.
    SetScope {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        user: Id,
        /// The new scope ids, comma separated (empty: nothing, except for an admin).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        scope: Vec<Id>,
    },
    /// Make a one-time enrollment code for a user (valid 24 hours); prints it.
    EnrollmentCode {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        user: Id,
    },
    /// Revoke a device: its next request is refused.
    RevokeDevice {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        device: Id,
    },
    /// List enrolled devices.
    ListDevices {
        #[command(flatten)]
        store: Store,
    },
}

/// Where the data is: exactly one of `--db` and `--database`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
struct Store {
    /// The SQLite database file (created if missing): the default, for one server process.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if
    /// needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when
    /// not given (which keeps the password out of the process list).
    #[arg(
        long,
        value_name = "URL",
        env = "GRIDWORK_DATABASE_URL",
        hide_env_values = true
    )]
    database: Option<String>,
}

/// An opened store of either kind.
enum Opened {
    Sqlite(Arc<SqliteStorage>),
    Postgres(Arc<PgStorage>),
}

impl Store {
    async fn open(&self) -> Result<Opened, Box<dyn std::error::Error>> {
        match (&self.db, &self.database) {
            (Some(path), None) => Ok(Opened::Sqlite(Arc::new(SqliteStorage::open(path)?))),
            (None, Some(url)) => Ok(Opened::Postgres(Arc::new(PgStorage::connect(url).await?))),
            // clap's group already refuses both and neither.
            _ => {
                Err("give exactly one of --db PATH (SQLite) and --database URL (PostgreSQL)".into())
            }
        }
    }
}

impl Admin {
    fn store(&self) -> &Store {
        match self {
            Admin::CreateUser { store, .. }
            | Admin::SetScope { store, .. }
            | Admin::EnrollmentCode { store, .. }
            | Admin::RevokeDevice { store, .. }
            | Admin::ListDevices { store } => store,
        }
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role; use one of {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve {
            store,
            listen,
            tls_cert,
            tls_key,
            device_burst,
            device_per_minute,
            enroll_burst,
            enroll_per_minute,
        } => {
            init_logs();
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(server::tls_config(&cert, &key)?),
                _ => None,
            };
            let limit = |burst: u32, per_minute: f64| -> Result<Option<RateLimit>, String> {
                if !per_minute.is_finite() || per_minute < 0.0 {
                    return Err("a per-minute limit must be a number ≥ 0".into());
                }
                Ok((per_minute > 0.0).then_some(RateLimit::new(burst.max(1), per_minute)))
            };
            let options = ServerOptions {
                rate_limits: RateLimits {
                    device: limit(device_burst, device_per_minute)?,
                    enroll: limit(enroll_burst, enroll_per_minute)?,
                },
                tls,
                ..ServerOptions::default()
            };
            match store.open().await? {
                Opened::Sqlite(s) => {
                    tracing::info!(db = %s.path().display(), "SQLite storage");
                    serve(s, listen, options).await
                }
                Opened::Postgres(s) => {
                    tracing::info!(db = %s.target(), "PostgreSQL storage");
                    serve(s, listen, options).await
                }
            }
        }
        Command::Admin(Admin::CreateUser { name, .. }) if name.trim().is_empty() => {
            Err("--name must not be empty".into())
        }
        Command::Admin(admin) => match admin.store().open().await? {
            Opened::Sqlite(s) => run_admin(&*s, admin).await,
            Opened::Postgres(s) => run_admin(&*s, admin).await,
        },
    }
}

async fn serve<S: Storage>(
    storage: Arc<S>,
    listen: SocketAddr,
    options: ServerOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let server = gridwork_server::serve_with(listener, storage, options).await?;
    println!("listening on {}", server.url());
    tracing::info!(addr = %server.local_addr(), "serving");
    stop_requested().await?;
    tracing::info!("stopping");
    server.shutdown().await?;
    Ok(())
}

async fn run_admin<S: Storage>(
    storage: &S,
    admin: Admin,
) -> Result<(), Box<dyn std::error::Error>> {
    match admin {
        Admin::CreateUser {
            name, role, scope, ..
        } => {
            let user = storage.create_user(name, role, scope).await?;
            println!("{}", user.id);
        }
        Admin::SetScope { user, scope, .. } => {
            if !storage.set_user_scope(user, scope).await? {
                return Err(format!("no user {user}").into());
            }
            println!("scope of {user} replaced");
        }
        Admin::EnrollmentCode { user, .. } => {
            let code = storage
                .create_enrollment_code(user, clock::now_ms())
                .await?;
            println!("{code}");
        }
        Admin::RevokeDevice { device, .. } => {
            if !storage.revoke_device(device, clock::now_ms()).await? {
                return Err(format!("no device {device}").into());
            }
            println!("revoked {device}");
        }
        Admin::ListDevices { .. } => {
            for d in storage.list_devices().await? {
                let state = if d.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{}", d.id, d.user_id, state, d.name);
            }
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (what systemd and container runtimes send), whichever comes first.
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Logs to stderr (stdout carries the `listening on` line and admin output); `RUST_LOG`
/// overrides the default `info`.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journald gets plain `key=value` fields.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
