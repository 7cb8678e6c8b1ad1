//! The sync server in a process of its own, for the city scenario, so that its CPU time and
//! memory are its alone and the load generator's are not counted with them.
//!
//! The bench binary runs itself again as `gridwork-bench city-server --db PATH` (or
//! `--database URL`), a hidden subcommand that serves the database with the code
//! `gridwork-server serve` runs: [`gridwork_server::serve_with`] over [`SqliteStorage`] or
//! [`PgStorage`], logging every request to stderr at `info` (here into a file). Rate limits are
//! off, as in the other server scenarios: thousands of devices come from one address, and the
//! closed loop sends faster than a phone may. The one difference: the process reads its
//! standard input, and answers the line `stats` with one line of JSON ([`ServerStats`]: the
//! storage's read counts, its own CPU time, the last sequence number), so the figures need no
//! endpoint the real server does not have. The end of its input stops it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gridwork_server::http::RateLimits;
use gridwork_server::storage::{PgStorage, SqliteStorage, Storage};
use gridwork_server::{ServerOptions, serve_with};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::cpu_cap::CpuCap;

/// The database a server process serves.
#[derive(Debug, Clone)]
pub enum Db {
    /// An SQLite file (one server process at a time).
    Sqlite(PathBuf),
    /// A PostgreSQL database URL (several server processes may share it).
    Postgres(String),
}

impl Db {
    /// Whether it is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The `city-server` arguments naming it.
    fn args(&self) -> Vec<String> {
        match self {
            Db::Sqlite(path) => vec!["--db".into(), path.display().to_string()],
            Db::Postgres(url) => vec!["--database".into(), url.clone()],
        }
    }
}

/// What a server process says about itself when asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Operation-log rows its storage read for pulls since it started ([`Storage::read_counts`]).
    pub log_rows: u64,
    /// Record rows its storage read for snapshots and pulls.
    pub record_rows: u64,
    /// CPU time of the whole process (every thread, user and system), in ns.
    pub cpu_ns: u64,
    /// The last sequence number stored, as its storage knows it.
    pub last_seq: u64,
}

impl ServerStats {
    /// CPU time used between `earlier` and `self`, in ms.
    pub fn cpu_ms_since(&self, earlier: &ServerStats) -> f64 {
        self.cpu_ns.saturating_sub(earlier.cpu_ns) as f64 / 1e6
    }
}

/// The descriptor limit raised to the hard limit (each waiting poll holds a socket on both
/// sides); returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// This process's CPU time (all threads), in ns.
fn process_cpu_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// CPU time (user and system) of every process named `postgres` on this machine, in ns: the
/// database's share of a run when its server is local (the harness's throwaway one is), `None`
/// when there is none to see (SQLite, or a database on another machine).
pub fn local_postgres_cpu_ns() -> Option<u64> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)? as u64;
    let mut total = 0u64;
    let mut seen = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the name may hold spaces, so split after its last `)`.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state is field 3 of the line, utime 14 and stime 15.
        let (Some(user), Some(system)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        if let (Ok(user), Ok(system)) = (user.parse::<u64>(), system.parse::<u64>()) {
            total += (user + system) * 1_000_000_000 / ticks;
            seen = true;
        }
    }
    seen.then_some(total)
}

/// The body of `gridwork-bench city-server`: serves `db` until standard input ends.
pub async fn child(db: Db) -> Result<(), Box<dyn std::error::Error>> {
    raise_fd_limit();
    init_logs();
    match db {
        Db::Sqlite(path) => serve(Arc::new(SqliteStorage::open(path)?)).await,
        Db::Postgres(url) => serve(Arc::new(PgStorage::connect(&url).await?)).await,
    }
}

async fn serve<S: Storage>(storage: Arc<S>) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = ServerOptions {
        rate_limits: RateLimits::UNLIMITED,
        ..ServerOptions::default()
    };
    let server = serve_with(listener, storage.clone(), options).await?;
    let mut out = tokio::io::stdout();
    out.write_all(format!("listening on {}\n", server.local_addr()).as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "stats" {
            let counts = storage.read_counts();
            let stats = ServerStats {
                log_rows: counts.log_rows,
                record_rows: counts.record_rows,
                cpu_ns: process_cpu_ns(),
                last_seq: *storage.subscribe().borrow(),
            };
            let mut line = serde_json::to_string(&stats)?;
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            out.flush().await?;
        }
    }
    server.shutdown().await?;
    Ok(())
}

/// The logs `gridwork-server serve` writes: `info`, to stderr.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
}

/// A running server process, seen from the load generator's side.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    pid: u32,
    log: PathBuf,
    /// The CPU quota it is held to, if any ([`ServerProcess::hold_to`]).
    cap: Option<CpuCap>,
}

impl ServerProcess {
    /// Starts a server process over `db`, its log in `log`; returns once it listens.
    pub async fn start(db: &Db, log: &Path) -> ServerProcess {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let log_file = std::fs::File::create(log).expect("the server log file");
        let mut child = Command::new(exe)
            .arg("city-server")
            .args(db.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("the server process starts");
        let pid = child.id().expect("a running child has an id");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_default();
        let Some(addr) = first.strip_prefix("listening on ") else {
            panic!(
                "the server process did not start; its log ends with:\n{}",
                log_tail(log)
            );
        };
        let addr = addr.trim().parse().expect("the server prints its address");
        ServerProcess {
            child,
            stdin,
            stdout,
            addr,
            pid,
            log: log.to_path_buf(),
            cap: None,
        }
    }

    /// Asks the process for its read counts, CPU time and last sequence number.
    pub async fn stats(&mut self) -> ServerStats {
        let stdin = self.stdin.as_mut().expect("the server is running");
        stdin
            .write_all(b"stats\n")
            .await
            .expect("the server reads its input");
        stdin.flush().await.expect("the server reads its input");
        let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_else(|| {
                panic!(
                    "the server process did not answer; its log ends with:\n{}",
                    log_tail(&self.log)
                )
            });
        serde_json::from_str(&line).expect("the server answers stats in JSON")
    }

    /// Its resident memory now (`VmRSS` of `/proc/<pid>/status`), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        proc_status_kb(self.pid, "VmRSS:") * 1024
    }

    /// Waits until the process has used less than 1 ms of CPU in 100 ms (its work for the
    /// requests sent so far is done), at most `limit`; returns its stats then.
    pub async fn settle(&mut self, limit: Duration) -> ServerStats {
        let until = tokio::time::Instant::now() + limit;
        let mut last = self.stats().await;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.stats().await;
            if now.cpu_ms_since(&last) < 1.0 || tokio::time::Instant::now() >= until {
                return now;
            }
            last = now;
        }
    }

    /// Holds it to `cores` of CPU time from now on (a control group of its own).
    pub fn hold_to(&mut self, cores: f64) -> Result<(), String> {
        let cap = CpuCap::new(&format!("gridwork-bench-server-{}", self.pid), cores)?;
        cap.hold(self.pid)?;
        self.cap = Some(cap);
        Ok(())
    }

    /// Stops it (end of input: a graceful shutdown), killing it if it does not stop in 30 s.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
        // Its group goes once the process has ended.
        drop(self.cap.take());
    }
}

/// A `kB` field of `/proc/<pid>/status` (0 when it cannot be read).
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The last lines of a server log, for a failure message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
