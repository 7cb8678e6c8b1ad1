//! The `gridwork-server` command line (the binary's `main` is [`main`]): `serve` runs the sync
//! server; `import` loads a subdistrict's base data ([`crate::import`]); `area ...` draws its
//! areas and grids ([`areas`]); `admin ...` manages users, enrollment codes and devices in the
//! same database (safe while servers run: SQLite serialises the writes, PostgreSQL is made for
//! it). Every command
//! takes exactly one of `--db PATH` (SQLite, one server process) and `--database URL`
//! (PostgreSQL, several processes).
//!
//! Every flag of `serve` may also come from an environment variable (`GRIDWORK_…`, named in
//! `--help`) or from a TOML file given by `--config` ([`config_file`]). Logs go to standard
//! error, as text or as one JSON object per line (`--log-format json`, [`logs`]).
//!
//! It lives in the library so that the benchmark harness can run the very code of the binary in
//! a process of its own ([`main_from`]).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{AreaLevel, Term};
use gridwork_domain::sync::Role;
use ipnet::IpNet;

use crate::http::{RateLimit, RateLimits, TrustedProxies};
use crate::server::{ConnectionLimits, descriptors};
use crate::storage::{PgStorage, SqliteStorage, Storage};
use crate::{ServerOptions, clock, server};
use gridwork_i18n::{t, tr};

/// `println!` that ends the process quietly (exit code 0) when standard output is a closed
/// pipe (`gridwork-server area list --db … | head`) instead of panicking: what it was printing
/// is no longer wanted.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_line(&format!($($arg)*))
    };
}

pub mod areas;
mod audit_cli;
pub mod config_file;
mod console_cli;
pub mod logs;

use config_file::{ConfigError, Flag};

#[derive(Debug, Parser)]
#[command(name = "gridwork-server", version, about = "The gridwork sync server")]
struct Cli {
    /// The language of what is printed for people: zh (中文, the default) or en (ADR 0024).
    #[arg(long, global = true, env = "GRIDWORK_LANG", value_parser = parse_lang)]
    lang: Option<gridwork_i18n::Lang>,
    #[command(subcommand)]
    command: Command,
}

/// `--lang`: zh, zh-CN, en, en_US.UTF-8, …
fn parse_lang(text: &str) -> Result<gridwork_i18n::Lang, String> {
    gridwork_i18n::Lang::parse(text).ok_or_else(|| t("cli-expected-lang"))
}

// Parsed once per run: the size of `Serve`'s flags costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
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
        /// A TOML file of flags (`listen = "10.0.0.11:8080"`, `trusted-proxy = ["10.0.0.0/24"]`):
        /// a flag on the command line or in its environment variable wins over the file.
        #[arg(long, value_name = "FILE", env = "GRIDWORK_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        store: Store,
        /// Address to listen on; port 0 picks a free port (the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080", env = "GRIDWORK_LISTEN")]
        listen: SocketAddr,
        /// PEM file with the server's certificate, then any intermediates; needs --tls-key.
        #[arg(
            long,
            requires = "tls_key",
            value_name = "PEM",
            env = "GRIDWORK_TLS_CERT"
        )]
        tls_cert: Option<PathBuf>,
        /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
        #[arg(
            long,
            requires = "tls_cert",
            value_name = "PEM",
            env = "GRIDWORK_TLS_KEY"
        )]
        tls_key: Option<PathBuf>,
        /// Requests a device may make at once after a quiet spell.
        #[arg(long, default_value_t = 600, env = "GRIDWORK_DEVICE_BURST")]
        device_burst: u32,
        /// Requests a device may make per minute in the long run (0: no limit).
        #[arg(long, default_value_t = 1200.0, env = "GRIDWORK_DEVICE_PER_MINUTE")]
        device_per_minute: f64,
        /// Enrollment attempts one client address may make at once.
        #[arg(long, default_value_t = 30, env = "GRIDWORK_ENROLL_BURST")]
        enroll_burst: u32,
        /// Enrollment attempts per client address per minute in the long run (0: no limit).
        #[arg(long, default_value_t = 30.0, env = "GRIDWORK_ENROLL_PER_MINUTE")]
        enroll_per_minute: f64,
        /// A reverse proxy (address or CIDR network) whose X-Forwarded-For names the client;
        /// repeat the flag (or separate by commas) for several. None by default: the socket's
        /// peer is the client.
        #[arg(
            long,
            value_name = "CIDR",
            value_parser = parse_proxy,
            value_delimiter = ',',
            env = "GRIDWORK_TRUSTED_PROXY"
        )]
        trusted_proxy: Vec<IpNet>,
        /// A network (CIDR, repeatable or comma-separated) that service accounts' callbacks may
        /// reach although it is not public: a platform inside the government network, e.g.
        /// `10.20.0.0/16`. Without it, callback URLs resolving to loopback, private, link-local
        /// (cloud metadata) or other non-public addresses are refused, at registration and at
        /// every delivery (ADR 0030).
        #[arg(
            long,
            value_name = "CIDR",
            value_parser = parse_proxy,
            value_delimiter = ',',
            env = "GRIDWORK_CALLBACK_ALLOW"
        )]
        callback_allow: Vec<IpNet>,
        /// Connections served at once; one more gets 503 too_many_connections. Default: what
        /// the descriptor limit allows (half of it, less 64), at most 10,000.
        #[arg(long, value_name = "N", env = "GRIDWORK_MAX_CONNECTIONS")]
        max_connections: Option<usize>,
        /// Seconds a connection has to send a whole request head, and may stay idle between
        /// requests; then it is closed.
        #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = parse_seconds, env = "GRIDWORK_HEADER_READ_TIMEOUT")]
        header_read_timeout: Duration,
        /// Seconds a request body may send nothing before it is given up (408).
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, env = "GRIDWORK_BODY_TIMEOUT")]
        body_timeout: Duration,
        /// Seconds a client may take no bytes of an answer before its connection is closed.
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, env = "GRIDWORK_WRITE_TIMEOUT")]
        write_timeout: Duration,
        /// Serve Prometheus metrics at http://ADDR/metrics (keep it on a private address; the
        /// bound address is printed). No metrics without it.
        #[arg(long, value_name = "ADDR", env = "GRIDWORK_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Log lines as text, or as one JSON object per line (for a log collector).
        #[arg(long, value_enum, default_value_t = logs::LogFormat::Text, env = "GRIDWORK_LOG_FORMAT")]
        log_format: logs::LogFormat,
        #[command(flatten)]
        blobs: BlobFlags,
        /// The largest photo accepted, in MiB.
        #[arg(
            long,
            value_name = "MIB",
            default_value_t = 32,
            env = "GRIDWORK_BLOB_MAX_MIB"
        )]
        blob_max_mib: u64,
        /// The MiB of photos one device may upload per UTC day.
        #[arg(
            long,
            value_name = "MIB",
            default_value_t = 256,
            env = "GRIDWORK_BLOB_DAILY_MIB"
        )]
        blob_daily_mib: u64,
        /// Minutes between orphan sweeps (0: never; `blobs gc` sweeps on demand).
        #[arg(
            long,
            value_name = "MINUTES",
            default_value_t = 60,
            env = "GRIDWORK_BLOB_SWEEP_MINUTES"
        )]
        blob_sweep_minutes: u64,
    },
    /// Photo blobs: `blobs gc` deletes the photos no case step references (older than the
    /// grace period) and partial uploads untouched for a day.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Import a subdistrict's base data from CSV or XLSX files (docs/import.md).
    ///
    /// Give files or folders; each file (or each sheet of a workbook) is named for its kind:
    /// 区域 areas, 消防站 stations, 楼栋 buildings, 房屋 households, 居民 residents, 用户 users.
    /// Every row is checked; refused rows are listed (file, row, column, reason) and the rest
    /// is written. Importing a corrected file again changes only what changed. Exits 1 when a
    /// row was refused.
    #[command(verbatim_doc_comment)]
    Import {
        #[command(flatten)]
        store: Store,
        /// The files, or folders of files, to import.
        #[arg(required = true, value_name = "FILE|DIR")]
        paths: Vec<PathBuf>,
        /// Check every row and say what would change, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also write the refused rows to this CSV file (文件,行,字段,原因).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Write a made-up subdistrict's files in the import templates (the README's sample is
    /// `sample samples/xiangfu`; `--residents 250000` makes the benchmark's).
    Sample {
        /// The folder to write the files in.
        dir: PathBuf,
        /// About how many residents (default: the README's small sample).
        #[arg(long)]
        residents: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Areas and grids: list, create, rename, retire, move buildings between grids.
    #[command(subcommand)]
    Area(AreaCommand),
    /// Manage users and devices.
    #[command(subcommand)]
    Admin(Admin),
    /// Read and check the audit log (who saw a full ID number, exports, admin changes,
    /// refused accesses).
    #[command(subcommand)]
    Audit(audit_cli::Audit),
}

#[derive(Debug, Subcommand)]
enum BlobsCommand {
    /// Delete orphan photos and stale partial uploads now; prints what was deleted.
    Gc {
        #[command(flatten)]
        store: Store,
        #[command(flatten)]
        blobs: BlobFlags,
    },
}

/// Where photo bytes are kept, and how long an unreferenced one is kept (ADR 0040).
#[derive(Debug, clap::Args)]
struct BlobFlags {
    /// Where photos are kept: `s3://BUCKET` (an S3-compatible store configured by AWS_ENDPOINT,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP; for several
    /// server processes) or a folder (`file:///PATH` or a path). Default: the folder `photos`
    /// beside the SQLite database; with PostgreSQL, `gridwork-photos` in the current folder.
    #[arg(long, value_name = "URL", env = "GRIDWORK_BLOB_STORE")]
    blob_store: Option<String>,
    /// Days an uploaded photo no case step references is kept before the sweep deletes it.
    #[arg(
        long,
        value_name = "DAYS",
        default_value_t = 7,
        env = "GRIDWORK_BLOB_GRACE_DAYS"
    )]
    blob_grace_days: u64,
}

impl BlobFlags {
    fn open(&self, store: &Store) -> Result<crate::blobs::BlobStore, Box<dyn std::error::Error>> {
        let blobs = match (&self.blob_store, &store.db) {
            (Some(url), _) => crate::blobs::BlobStore::from_url(url)?,
            (None, Some(db)) => {
                let dir = db.parent().filter(|p| !p.as_os_str().is_empty());
                crate::blobs::BlobStore::local(
                    &dir.unwrap_or(std::path::Path::new(".")).join("photos"),
                )?
            }
            (None, None) => {
                tracing::warn!(
                    "no --blob-store: photos are kept in ./gridwork-photos, which only this process sees; give s3://BUCKET to several processes"
                );
                crate::blobs::BlobStore::local(std::path::Path::new("gridwork-photos"))?
            }
        };
        tracing::info!(at = blobs.describe(), "blob store");
        Ok(blobs)
    }

    fn policy(&self, sweep_minutes: u64) -> crate::blobs::gc::SweepPolicy {
        crate::blobs::gc::SweepPolicy {
            grace: Duration::from_secs(self.blob_grace_days.saturating_mul(86_400)),
            every: Duration::from_secs(sweep_minutes.max(1).saturating_mul(60)),
            ..crate::blobs::gc::SweepPolicy::DEFAULT
        }
    }
}

#[derive(Debug, Subcommand)]
enum AreaCommand {
    /// The areas as a tree, with the buildings, households and residents each holds.
    List {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        json: bool,
    },
    /// Create an area under another (a new grid when grids are redrawn).
    Create {
        #[command(flatten)]
        store: Store,
        /// Its code (a grid: its community's 12 digits and 3 more).
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// 区 district, 街道 subdistrict, 网层 grid_layer, 社区 community, 网格 grid, 微网格 micro_grid.
        #[arg(long, value_parser = parse_term::<AreaLevel>)]
        level: AreaLevel,
        /// The code of the area above (none for a district).
        #[arg(long)]
        parent: Option<String>,
    },
    /// Rename an area.
    Rename {
        #[command(flatten)]
        store: Store,
        /// The area's code.
        #[arg(long)]
        area: String,
        #[arg(long)]
        name: String,
    },
    /// Retire an area nothing is in any more (no areas, buildings, stations or users' scopes).
    Retire {
        #[command(flatten)]
        store: Store,
        /// The area's code.
        #[arg(long)]
        area: String,
    },
    /// Move buildings into another grid; their households, residents and cases follow, and so
    /// does every phone (the old grid's phones drop them, the new grid's receive them).
    MoveBuildings {
        #[command(flatten)]
        store: Store,
        /// The grid's code.
        #[arg(long)]
        to: String,
        /// A micro-grid of that grid.
        #[arg(long)]
        micro_grid: Option<String>,
        /// A building's unified address code (or id); repeat, or separate by commas.
        #[arg(long, value_delimiter = ',')]
        building: Vec<String>,
        /// Every building whose address code starts with these digits.
        #[arg(long)]
        prefix: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Create a user; prints the new user id.
    CreateUser {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        name: String,
        /// 网格员 gridworker, 楼长 building_head, 消防队员 fire_crew, 调度员 dispatcher,
        /// 调解员 mediator or 管理员 admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// What the user works in, comma separated: area codes (a building head: address
        /// codes; a fire crew: station names), or ids. Each must be stored.
        #[arg(long, value_delimiter = ',')]
        scope: Vec<String>,
    },
    /// Replace a user's scope (a grid redrawn, another building): their devices take the new
    /// scope on their next sync, purging what they may no longer hold.
    SetScope {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        user: Id,
        /// The new scope, comma separated, as for create-user (empty: nothing, except for an
        /// admin).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        scope: Vec<String>,
    },
    /// Make a one-time enrollment code for a user (valid 24 hours); prints it.
    EnrollmentCode {
        #[command(flatten)]
        store: Store,
        /// The user: their id, or their name when no one else has it.
        #[arg(long)]
        user: String,
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
    /// Create a service account for a system that sends work orders (the 12345 platform, the
    /// 110 linkage), scoped to an area; prints its id and its token (shown only here).
    CreateServiceAccount {
        #[command(flatten)]
        store: Store,
        /// What the system is, e.g. "12345 hotline platform".
        #[arg(long)]
        name: String,
        /// The id of the area (subdistrict, community, grid) it may send work orders into.
        #[arg(long)]
        area: Id,
    },
    /// Revoke a service account: its token is refused from the next request.
    RevokeServiceAccount {
        #[command(flatten)]
        store: Store,
        #[arg(long)]
        account: Id,
    },
    /// List service accounts: id, state, area, callback URL, name.
    ListServiceAccounts {
        #[command(flatten)]
        store: Store,
    },
    /// Set the password a dispatcher or admin signs in to the web console (/console) with,
    /// read from standard input (one line, at least 10 characters); ends their sessions.
    ConsolePassword {
        #[command(flatten)]
        store: Store,
        /// The user: their id, or their name when no one else has it.
        #[arg(long)]
        user: String,
    },
}

/// Where the data is: exactly one of `--db` and `--database`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
struct Store {
    /// The SQLite database file (created if missing): the default, for one server process.
    #[arg(long, value_name = "PATH", env = "GRIDWORK_DB")]
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
            _ => Err(t("server-store-one-of").into()),
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
            | Admin::ListDevices { store }
            | Admin::CreateServiceAccount { store, .. }
            | Admin::RevokeServiceAccount { store, .. }
            | Admin::ListServiceAccounts { store }
            | Admin::ConsolePassword { store, .. } => store,
        }
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::from_term(s).ok_or_else(|| tr("cli-expected-one-of", &[("choices", &Role::choices())]))
}

fn parse_term<T: Term + Send + Sync + Clone>(s: &str) -> Result<T, String> {
    T::from_term(s).ok_or_else(|| tr("cli-expected-one-of", &[("choices", &T::choices())]))
}

fn parse_proxy(s: &str) -> Result<IpNet, String> {
    TrustedProxies::parse_one(s)
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| t("server-not-seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(t("server-timeout-range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// An error of a command in the output language: the storage's, the domain's refused values,
/// a file's and the configuration file's by their kind, through the catalogue; our own
/// messages are catalogue words already. What may stay English is technical detail (the
/// database's or the system's words), never the sentence (ADR 0039). Logs stay English.
fn error_words(e: &(dyn std::error::Error + 'static)) -> String {
    use crate::storage::StorageError as S;
    if let Some(s) = e.downcast_ref::<S>() {
        return match s {
            S::Sqlite(_) | S::Postgres(_) => {
                let detail = s.to_string();
                let detail = detail.strip_prefix("database error: ").unwrap_or(&detail);
                tr("server-db-error", &[("detail", detail)])
            }
            S::BadUrl(d) => tr("server-db-bad-url", &[("detail", d)]),
            S::Unreachable { target, reason } => tr(
                "server-db-unreachable",
                &[("target", target), ("reason", reason)],
            ),
            S::NewerSchema { found, supported } => tr(
                "server-db-newer",
                &[
                    ("found", &found.to_string()),
                    ("supported", &supported.to_string()),
                ],
            ),
            S::Corrupt(d) => tr("server-db-corrupt", &[("detail", d)]),
            S::UnknownUser(id) => tr("admin-no-user", &[("user", &id.to_string())]),
            S::Task(d) => tr("server-db-task", &[("detail", d)]),
        };
    }
    if let Some(tls) = e.downcast_ref::<crate::server::TlsConfigError>() {
        use crate::server::TlsConfigError as T;
        return match tls {
            T::Certificate(d) => tr("server-tls-certificate", &[("detail", d)]),
            T::NoCertificate => t("server-tls-no-certificate"),
            T::Key(d) => tr("server-tls-key", &[("detail", d)]),
            T::Rustls(r) => tr("server-tls-rustls", &[("detail", &r.to_string())]),
        };
    }
    if let Some(v) = e.downcast_ref::<gridwork_domain::validate::ValidationError>() {
        return gridwork_i18n::invalid_input(&v.field, &v.problem);
    }
    if let Some(c) = e.downcast_ref::<ConfigError>() {
        return config_error(c);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        return tr("err-io", &[("reason", &io_reason(io))]);
    }
    e.to_string()
}

/// The system's reason for a failed file operation, in words where the catalogue has them.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let key = match e.kind() {
        std::io::ErrorKind::NotFound => "io-not-found",
        std::io::ErrorKind::PermissionDenied => "io-permission-denied",
        std::io::ErrorKind::AlreadyExists => "io-already-exists",
        std::io::ErrorKind::IsADirectory => "io-is-a-directory",
        std::io::ErrorKind::InvalidData => "io-invalid-data",
        _ => return e.to_string(),
    };
    t(key)
}

/// A file's error: `FILE：reason`.
pub(crate) fn file_error(path: &std::path::Path, e: &std::io::Error) -> String {
    tr(
        "server-file-error",
        &[
            ("file", &path.display().to_string()),
            ("reason", &io_reason(e)),
        ],
    )
}

/// A role in the output language: `网格员`, `gridworker`.
pub(crate) fn role_words(role: Role) -> String {
    match gridwork_i18n::current() {
        gridwork_i18n::Lang::Zh => role.zh().to_string(),
        gridwork_i18n::Lang::En => role.as_str().to_string(),
    }
}

/// The configuration file's error in words.
fn config_error(e: &ConfigError) -> String {
    match e {
        ConfigError::Read { path, reason } => {
            tr("server-config-read", &[("path", path), ("reason", reason)])
        }
        ConfigError::Toml { path, reason } => {
            tr("server-config-toml", &[("path", path), ("reason", reason)])
        }
        ConfigError::UnknownKey { key, known } => tr(
            "server-config-unknown-key",
            &[("key", key), ("known", known)],
        ),
        ConfigError::BadValue { key } => tr("server-config-bad-value", &[("key", key)]),
    }
}

/// Writes a line to standard output; a closed pipe ends the process at once, quietly.
pub(crate) fn write_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!(
            "{}",
            tr(
                "server-error",
                &[("message", &tr("err-io", &[("reason", &io_reason(&e))]))]
            )
        );
        std::process::exit(1);
    }
}

/// The binary's `main`: the process's arguments.
pub fn main() -> ExitCode {
    main_from(std::env::args_os().collect())
}

/// Runs the command line `args` (the program name first), as the binary does.
pub fn main_from(args: Vec<OsString>) -> ExitCode {
    // The language first: the configuration file's errors and clap's are in it too (ADR 0039).
    gridwork_i18n::set_current(gridwork_i18n::usage::lang_of_args(&args));
    let args = match with_config_file(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{}", tr("server-error", &[("message", &config_error(&e))]));
            return ExitCode::from(2);
        }
    };
    let matches = gridwork_i18n::usage::parse(Cli::command(), args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| gridwork_i18n::usage::exit(e));
    gridwork_i18n::set_current(cli.lang.unwrap_or_default());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "{}",
                tr(
                    "server-error",
                    &[(
                        "message",
                        &tr("server-runtime", &[("reason", &e.to_string())])
                    )]
                )
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{}",
                gridwork_i18n::tr("server-error", &[("message", &error_words(&*e))])
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve {
            config: _,
            store,
            listen,
            tls_cert,
            tls_key,
            device_burst,
            device_per_minute,
            enroll_burst,
            enroll_per_minute,
            trusted_proxy,
            callback_allow,
            max_connections,
            header_read_timeout,
            body_timeout,
            write_timeout,
            metrics_listen,
            log_format,
            blobs,
            blob_max_mib,
            blob_daily_mib,
            blob_sweep_minutes,
        } => {
            logs::init(log_format);
            match descriptors::raise_limit() {
                Some(r) if r.after > r.before => {
                    tracing::info!(from = r.before, to = r.after, "descriptor limit raised");
                }
                Some(r) => tracing::info!(limit = r.after, "descriptor limit"),
                None => {}
            }
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(server::tls_config(&cert, &key)?),
                _ => None,
            };
            let limit = |burst: u32, per_minute: f64| -> Result<Option<RateLimit>, String> {
                if !per_minute.is_finite() || per_minute < 0.0 {
                    return Err(t("server-per-minute"));
                }
                Ok((per_minute > 0.0).then_some(RateLimit::new(burst.max(1), per_minute)))
            };
            let options = ServerOptions {
                rate_limits: RateLimits {
                    device: limit(device_burst, device_per_minute)?,
                    enroll: limit(enroll_burst, enroll_per_minute)?,
                },
                tls,
                connections: ConnectionLimits {
                    max_connections,
                    header_read_timeout,
                    body_idle_timeout: body_timeout,
                    write_timeout,
                },
                trusted_proxies: TrustedProxies::new(trusted_proxy),
                metrics_listen,
                callback_allow,
                blobs: blobs.open(&store)?,
                blob_limits: crate::blobs::BlobLimits {
                    max_blob_bytes: blob_max_mib.saturating_mul(1024 * 1024),
                    device_daily_bytes: blob_daily_mib.saturating_mul(1024 * 1024),
                },
                blob_sweep: (blob_sweep_minutes > 0).then(|| blobs.policy(blob_sweep_minutes)),
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
        Command::Blobs(BlobsCommand::Gc { store, blobs }) => {
            let blob_store = blobs.open(&store)?;
            let policy = blobs.policy(60);
            let now = clock::now_ms();
            let swept = match store.open().await? {
                Opened::Sqlite(s) => crate::blobs::gc::sweep(&*s, &blob_store, policy, now).await?,
                Opened::Postgres(s) => {
                    crate::blobs::gc::sweep(&*s, &blob_store, policy, now).await?
                }
            };
            println!(
                "{}",
                tr(
                    "blobs-gc-done",
                    &[
                        ("blobs", &swept.blobs.to_string()),
                        ("deleted", &swept.deleted.to_string()),
                        (
                            "mib",
                            &format!("{:.1}", swept.deleted_bytes as f64 / 1_048_576.0)
                        ),
                        ("uploads", &swept.uploads.to_string()),
                        ("days", &blobs.blob_grace_days.to_string()),
                    ]
                )
            );
            Ok(())
        }
        Command::Admin(Admin::CreateUser { name, .. }) if name.trim().is_empty() => {
            Err(t("server-name-empty").into())
        }
        Command::Admin(admin) => match admin.store().open().await? {
            Opened::Sqlite(s) => audit_cli::audited(&*s, admin).await,
            Opened::Postgres(s) => audit_cli::audited(&*s, admin).await,
        },
        Command::Audit(audit) => match audit.store().open().await? {
            Opened::Sqlite(s) => audit_cli::run(&*s, audit).await,
            Opened::Postgres(s) => audit_cli::run(&*s, audit).await,
        },
        Command::Import {
            store,
            paths,
            dry_run,
            report,
        } => match store.open().await? {
            Opened::Sqlite(s) => run_import(&*s, &paths, dry_run, report).await,
            Opened::Postgres(s) => run_import(&*s, &paths, dry_run, report).await,
        },
        Command::Sample {
            dir,
            residents,
            seed,
        } => {
            let size = residents.map_or(crate::import::sample::SampleSize::README, |n| {
                crate::import::sample::SampleSize::city(n)
            });
            let n = crate::import::sample::write(&dir, size, seed)?;
            outln!(
                "{}",
                tr(
                    "sample-written",
                    &[
                        ("dir", &dir.display().to_string()),
                        ("areas", &n.areas.to_string()),
                        ("stations", &n.stations.to_string()),
                        ("buildings", &n.buildings.to_string()),
                        ("households", &n.households.to_string()),
                        ("residents", &n.residents.to_string()),
                        ("users", &n.users.to_string()),
                    ],
                )
            );
            Ok(())
        }
        Command::Area(command) => match command.store().open().await? {
            Opened::Sqlite(s) => run_area(&*s, command).await,
            Opened::Postgres(s) => run_area(&*s, command).await,
        },
    }
}

async fn serve<S: Storage>(
    storage: Arc<S>,
    listen: SocketAddr,
    options: ServerOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        tr(
            "server-cannot-listen",
            &[("addr", &listen.to_string()), ("reason", &io_reason(&e))],
        )
    })?;
    let server = crate::serve_with(listener, storage, options).await?;
    // These two lines stay as they are in every language: scripts and supervisors read the
    // address from them (a stable line, like a code; ADR 0035).
    outln!("listening on {}", server.url());
    if let Some(metrics) = server.metrics_addr() {
        outln!("metrics on http://{metrics}/metrics");
    }
    tracing::info!(
        addr = %server.local_addr(),
        max_connections = server.max_connections(),
        "serving"
    );
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
            let scope = areas::resolve_scope(storage, role, &scope).await?;
            let user = storage.create_user(name, role, scope).await?;
            outln!("{}", user.id);
        }
        Admin::SetScope { user, scope, .. } => {
            let Some(stored) = storage.user(user).await? else {
                return Err(tr("admin-no-user", &[("user", &user.to_string())]).into());
            };
            let scope = areas::resolve_scope(storage, stored.role, &scope).await?;
            if !storage.set_user_scope(user, scope).await? {
                return Err(tr("admin-no-user", &[("user", &user.to_string())]).into());
            }
            outln!(
                "{}",
                tr("admin-scope-replaced", &[("user", &user.to_string())])
            );
        }
        Admin::EnrollmentCode { user, .. } => {
            let user = user_named(storage, &user).await?;
            if storage.user(user).await?.is_none() {
                return Err(tr("admin-no-user", &[("user", &user.to_string())]).into());
            }
            let code = storage
                .create_enrollment_code(user, clock::now_ms())
                .await?;
            outln!("{code}");
        }
        Admin::RevokeDevice { device, .. } => {
            if !storage.revoke_device(device, clock::now_ms()).await? {
                return Err(tr("admin-no-device", &[("device", &device.to_string())]).into());
            }
            outln!(
                "{}",
                tr("admin-revoked", &[("device", &device.to_string())])
            );
        }
        service @ (Admin::CreateServiceAccount { .. }
        | Admin::RevokeServiceAccount { .. }
        | Admin::ListServiceAccounts { .. }) => audit_cli::service_admin(storage, service).await?,
        Admin::ConsolePassword { user, .. } => {
            let user = user_named(storage, &user).await?;
            console_cli::set_password(storage, user, std::io::stdin().lock()).await?;
        }
        Admin::ListDevices { .. } => {
            for d in storage.list_devices().await? {
                let state = if d.revoked_ms.is_some() {
                    t("admin-device-revoked")
                } else {
                    t("admin-device-active")
                };
                outln!("{}\t{}\t{}\t{}", d.id, d.user_id, state, d.name);
            }
        }
    }
    Ok(())
}

/// The user `s` names: an id, or a name only one user has.
async fn user_named<S: Storage>(storage: &S, s: &str) -> Result<Id, Box<dyn std::error::Error>> {
    if let Ok(id) = s.trim().parse::<Id>() {
        return Ok(id);
    }
    let users = storage.users().await?;
    let named: Vec<_> = users.iter().filter(|u| u.name == s.trim()).collect();
    match named.as_slice() {
        [one] => Ok(one.id),
        [] => Err(tr("admin-user-unknown", &[("name", s)]).into()),
        _ => Err(tr(
            "admin-user-ambiguous",
            &[("name", s), ("count", &named.len().to_string())],
        )
        .into()),
    }
}

impl AreaCommand {
    fn store(&self) -> &Store {
        match self {
            AreaCommand::List { store, .. }
            | AreaCommand::Create { store, .. }
            | AreaCommand::Rename { store, .. }
            | AreaCommand::Retire { store, .. }
            | AreaCommand::MoveBuildings { store, .. } => store,
        }
    }
}

/// An `area` command, and its audit entry when it changed something (codes only: no name, no
/// personal value). A command that fails leaves no entry: it changed nothing.
async fn run_area<S: Storage>(
    storage: &S,
    command: AreaCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    let described = match &command {
        AreaCommand::List { .. } => None,
        AreaCommand::Create { code, level, .. } => Some((
            "area",
            None,
            format!("area create (code {code}, level {})", level.as_str()),
        )),
        AreaCommand::Rename { area, .. } => {
            Some(("area", Some(area.clone()), "area rename".into()))
        }
        AreaCommand::Retire { area, .. } => {
            Some(("area", Some(area.clone()), "area retire".into()))
        }
        AreaCommand::MoveBuildings {
            to,
            building,
            prefix,
            ..
        } => Some((
            "area",
            Some(to.clone()),
            format!(
                "area move-buildings ({} named, prefix {})",
                building.len(),
                prefix.as_deref().unwrap_or("none")
            ),
        )),
    };
    run_area_command(storage, command).await?;
    if let Some((kind, target, reason)) = described {
        audit_cli::record_admin_change(storage, kind, target, reason).await?;
    }
    Ok(())
}

/// An import, and its audit entry unless it was a dry run (also when some rows were refused:
/// the others were written).
async fn run_import<S: Storage>(
    storage: &S,
    paths: &[PathBuf],
    dry_run: bool,
    report: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let result = areas::run_import(storage, paths, dry_run, report).await;
    if !dry_run {
        let reason = format!(
            "import ({} files or folders{})",
            paths.len(),
            if result.is_err() {
                "; some rows refused"
            } else {
                ""
            }
        );
        audit_cli::record_admin_change(storage, "import", None, reason).await?;
    }
    result
}

async fn run_area_command<S: Storage>(
    storage: &S,
    command: AreaCommand,
) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        AreaCommand::List { json, .. } => areas::list(storage, json).await,
        AreaCommand::Create {
            code,
            name,
            level,
            parent,
            ..
        } => areas::create(storage, &code, &name, level, parent.as_deref()).await,
        AreaCommand::Rename { area, name, .. } => areas::rename(storage, &area, &name).await,
        AreaCommand::Retire { area, .. } => areas::retire(storage, &area).await,
        AreaCommand::MoveBuildings {
            to,
            micro_grid,
            building,
            prefix,
            ..
        } => {
            areas::move_buildings(
                storage,
                &to,
                micro_grid.as_deref(),
                &building,
                prefix.as_deref(),
            )
            .await
        }
    }
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

/// `args` with the flags of `serve`'s configuration file (`--config FILE` or `GRIDWORK_CONFIG`)
/// put in after `serve`, except those the command line or the environment already gives.
fn with_config_file(mut args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    if args.get(1).and_then(|a| a.to_str()) != Some("serve") {
        return Ok(args);
    }
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        let a = a.to_str()?;
        if a == "--config" {
            args.get(i + 1).map(PathBuf::from)
        } else {
            a.strip_prefix("--config=").map(PathBuf::from)
        }
    });
    let Some(path) = from_args.or_else(|| std::env::var_os("GRIDWORK_CONFIG").map(PathBuf::from))
    else {
        return Ok(args);
    };
    let command = Cli::command();
    let flags: Vec<Flag> = command
        .find_subcommand("serve")
        .map(|serve| {
            serve
                .get_arguments()
                .filter_map(|a| {
                    Some(Flag {
                        long: a.get_long()?.to_string(),
                        env: a.get_env().map(|e| e.to_string_lossy().into_owned()),
                    })
                })
                .filter(|f| f.long != "config" && f.long != "help")
                .collect()
        })
        .unwrap_or_default();
    let given = |f: &Flag| {
        config_file::on_command_line(&args, f)
            || f.env
                .as_ref()
                .is_some_and(|e| std::env::var_os(e).is_some())
    };
    let extra = config_file::read(&path, &flags, &given)?;
    args.splice(2..2, extra);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use gridwork_i18n::usage::{description_problems, descriptions};
    use gridwork_i18n::{Lang, ZH_FTL, keys_of};

    /// Every command and flag of `gridwork-server` has a description in Chinese and in
    /// English, `--help` shows it in the language asked for, and the catalogue has no
    /// description of a command or flag that is gone.
    #[test]
    fn every_command_and_flag_has_a_description_in_both_languages() {
        let command = super::Cli::command();
        let all = descriptions(&command);
        assert!(all.len() > 100, "the commands were walked: {}", all.len());
        let problems = description_problems(&command);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        let keys: Vec<&str> = all.iter().map(|d| d.key.as_str()).collect();
        for key in keys_of(ZH_FTL) {
            if key.starts_with("help-gridwork-server") {
                assert!(keys.contains(&key), "{key} describes nothing");
            }
        }
        let mut zh = gridwork_i18n::usage::localize(super::Cli::command(), Lang::Zh);
        let import = zh
            .find_subcommand_mut("import")
            .expect("import")
            .render_help()
            .to_string();
        for words in ["导入街道的基础数据", "SQLite 数据库文件"] {
            assert!(import.contains(words), "{words} in:\n{import}");
        }
        assert!(!import.contains("Check every row"), "{import}");
        let mut en = gridwork_i18n::usage::localize(super::Cli::command(), Lang::En);
        let import = en
            .find_subcommand_mut("import")
            .expect("import")
            .render_help()
            .to_string();
        assert!(import.contains("Check every row"), "{import}");
        // `--help`'s paragraphs, from the catalogue in both languages.
        let long = |lang: Lang, name: &str| {
            gridwork_i18n::usage::localize(super::Cli::command(), lang)
                .find_subcommand_mut(name)
                .expect(name)
                .render_long_help()
                .to_string()
        };
        let serve = long(Lang::Zh, "serve");
        assert!(serve.contains("桶空时回答 429"), "{serve}");
        assert!(!serve.contains("Every authenticated request"), "{serve}");
        let import = long(Lang::Zh, "import");
        assert!(import.contains("有行被拒绝时退出码为 1"), "{import}");
        assert!(!import.contains("Every row is checked"), "{import}");
        let import = long(Lang::En, "import");
        assert!(import.contains("Every row is checked"), "{import}");
    }
}
