//! `gridwork`: a gridwork device from the terminal, and `gridwork demo`, which runs the whole
//! system (a real sync server, five devices, a day of field work) on embedded defaults.
//!
//! ```text
//! gridwork demo                                  # the main job, nothing to set up
//! gridwork device enroll --server URL --code CODE
//! gridwork household add --building ID --unit 2-301 --kind rental
//! gridwork hazard report --building ID --title "电动车楼道充电"
//! gridwork sync
//! gridwork case list --json
//! ```

/// `println!` that ends the process quietly when standard output is a closed pipe
/// (`gridwork --json building list | head`) instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::write_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(&format!($($arg)*))
    };
}

mod args;
mod commands;
mod demo;
mod i18n;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::Cli;

fn main() -> ExitCode {
    // clap's usage errors and the help's headings in the language asked for (ADR 0039).
    let matches = gridwork_i18n::usage::parse(Cli::command(), std::env::args_os().collect());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| gridwork_i18n::usage::exit(e));
    gridwork_i18n::set_current(cli.lang.unwrap_or_default());
    if let Some(level) = cli.log.as_deref() {
        init_log(level);
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", i18n::error(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs of the device core (and of the embedded server in `demo`) to standard error. The
/// filter is an `EnvFilter` directive (`debug`, `gridwork_core=trace`, …).
fn init_log(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
