//! `gridwork-bench`: every benchmark scenario of `docs/benchmarks.md`, each measured beside a
//! reference in the same run, written as `benchmarks.md` (the table) and `benchmarks.json`
//! (the raw numbers).
//!
//! ```text
//! cargo run --release -p gridwork-bench -- all                  # everything, into docs/
//! cargo run --release -p gridwork-bench -- all --only apply     # one scenario (repeatable)
//! cargo run -p gridwork-bench -- all --quick --out /tmp/b       # the smoke run of the tests
//! ```
//!
//! The server-load and city scenarios run on SQLite and on PostgreSQL: `--postgres URL` (or
//! `GRIDWORK_TEST_DATABASE_URL`) names a server whose user may create databases; without one,
//! a full run starts a throwaway server with `scripts/test-postgres.sh` and stops it after. If
//! none can be had, the report says the PostgreSQL row was not measured, and why.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};

mod compare;
mod cpu_cap;
mod dataset;
mod load;
mod machine;
mod mem_transport;
mod postgres;
mod report;
mod scenarios;
mod server;
mod server_process;
mod stats;

/// The scenarios, in the order they run, as `--only` names them.
const SCENARIOS: [&str; 11] = [
    "local_edit",
    "apply",
    "stale",
    "bootstrap",
    "server_load",
    "alarm",
    "peer",
    "growth",
    "hostile",
    "city",
    "import",
];

#[derive(Debug, Parser)]
#[command(name = "gridwork-bench", about = "gridwork's benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the scenarios and writes benchmarks.md and benchmarks.json.
    All {
        /// Small sizes, for a smoke run (the figures mean nothing).
        #[arg(long)]
        quick: bool,
        /// Run only these scenarios (repeatable): local_edit, apply, stale, bootstrap,
        /// server_load, alarm, peer, growth, hostile, city, import. `apply` and `stale` are
        /// measured together.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
        only: Vec<String>,
        /// Where to write the files (default: the workspace's docs/ for a full run, a folder
        /// under the system's temporary folder for a quick one).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The PostgreSQL server for the server-load and city scenarios (a user who may create
        /// databases).
        #[arg(long, env = postgres::TEST_DATABASE_URL_VAR)]
        postgres: Option<String>,
        /// The alarm scenario also runs with the dispatcher's phone uploading a photo (31.5 MB)
        /// during every round (the lane of ADR 0042), beside the rounds without.
        #[arg(long)]
        alarm_upload: bool,
    },
    /// A before-and-after on this machine: runs the scenarios with this binary and with
    /// `--baseline` (the same harness built from the code before) in turns, each in a process
    /// of its own, and writes both sides' medians and the change of every figure to
    /// compare.md and compare.json in `--out`.
    Compare(compare::Options),
    /// The `gridwork-server` command line, in a process of its own (run by the hostile
    /// scenario, which measures the server process's memory): the binary's very code.
    #[command(hide = true)]
    Server {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// One phone's bootstrap in a process of its own (run by the bootstrap scenario).
    #[command(hide = true)]
    BootstrapChild {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        store: String,
    },
    /// The sync server in a process of its own (run by the city scenario): serves the SQLite
    /// file or the PostgreSQL database until its standard input ends, answering `stats`.
    #[command(hide = true)]
    CityServer {
        #[arg(
            long,
            conflicts_with = "database",
            required_unless_present = "database"
        )]
        db: Option<PathBuf>,
        #[arg(long)]
        database: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Cmd::Server { args } = cli.command {
        let mut argv = vec![std::ffi::OsString::from("gridwork-server")];
        argv.extend(args);
        std::process::exit(match gridwork_server::cli::main_from(argv) {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    if let Cmd::Compare(options) = &cli.command {
        match compare::run(options) {
            Ok(md) => println!("wrote {}", md.display()),
            Err(e) => {
                eprintln!("gridwork-bench compare: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match cli.command {
        Cmd::BootstrapChild {
            server,
            code,
            store,
        } => {
            let report = runtime.block_on(scenarios::bootstrap::child(&server, &code, &store));
            println!("{}", serde_json::to_string(&report).expect("serializes"));
        }
        Cmd::CityServer { db, database } => {
            let db = match (db, database) {
                (Some(path), _) => server_process::Db::Sqlite(path),
                (None, Some(url)) => server_process::Db::Postgres(url),
                (None, None) => unreachable!("clap requires one"),
            };
            if let Err(e) = runtime.block_on(server_process::child(db)) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        Cmd::All {
            quick,
            only,
            out,
            postgres,
            alarm_upload,
        } => runtime.block_on(all(quick, only, out, postgres, alarm_upload)),
        Cmd::Server { .. } | Cmd::Compare(_) => unreachable!("run above, before the runtime"),
    }
}

async fn all(
    quick: bool,
    only: Vec<String>,
    out: Option<PathBuf>,
    pg: Option<String>,
    alarm_upload: bool,
) {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let out = out.unwrap_or_else(|| {
        if quick {
            std::env::temp_dir().join("gridwork-bench-quick")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
        }
    });
    let started_utc = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
    let machine = machine::Machine::detect();
    let started = Instant::now();
    let pg_server = if wanted("server_load") || wanted("city") {
        Some(postgres::PgServer::find_or_start(pg, !quick))
    } else {
        None
    };
    let cfg = scenarios::Config {
        quick,
        postgres: match &pg_server {
            Some(Ok(s)) => Ok(s.url.clone()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("not asked for".into()),
        },
        alarm_upload,
    };
    let mut results = Vec::new();
    let step = |name: &str| eprintln!("[{:>6.1} s] {name}", started.elapsed().as_secs_f64());
    if wanted("local_edit") {
        step("local_edit");
        results.push(scenarios::local_edit::run(&cfg));
    }
    if wanted("apply") || wanted("stale") {
        step("apply + stale");
        results.extend(scenarios::apply::run(&cfg).await);
    }
    if wanted("bootstrap") {
        step("bootstrap");
        results.push(scenarios::bootstrap::run(&cfg).await);
    }
    if wanted("server_load") {
        step("server_load");
        results.push(scenarios::server_load::run(&cfg).await);
    }
    if wanted("alarm") {
        step("alarm");
        results.push(scenarios::alarm::run(&cfg).await);
    }
    if wanted("peer") {
        step("peer");
        results.push(scenarios::peer::run(&cfg).await);
    }
    if wanted("growth") {
        step("growth");
        results.push(scenarios::growth::run(&cfg).await);
    }
    if wanted("hostile") {
        step("hostile");
        results.push(scenarios::hostile::run(&cfg).await);
    }
    if wanted("city") {
        step("city");
        results.push(scenarios::city::run(&cfg).await);
    }
    if wanted("import") {
        step("import");
        results.push(scenarios::import::run(&cfg).await);
    }
    drop(pg_server);
    let report = report::Report {
        quick,
        started_utc,
        seconds: started.elapsed().as_secs_f64(),
        machine,
        scenarios: results,
    };
    report.write(&out).expect("the report is written");
    print!("{}", report.markdown_block());
    eprintln!(
        "wrote {} and {}",
        out.join("benchmarks.md").display(),
        out.join("benchmarks.json").display()
    );
}
