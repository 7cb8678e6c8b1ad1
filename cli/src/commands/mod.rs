//! Running a parsed command against the device store. One file per group of commands; this one
//! opens the store, maps errors to exit codes and dispatches.

mod cases;
mod device;
mod records;
mod soak;

use gridwork_core::{Error as CoreError, Gridwork, SyncError};

use crate::args::{Cli, Command};

/// What went wrong, and the exit code it gives: 2 for input the user can correct, 1 otherwise.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Core(#[from] CoreError),
    #[error("{0}")]
    Sync(#[from] SyncError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Core(
                CoreError::Invalid(_) | CoreError::Transition(_) | CoreError::NotFound { .. },
            ) => 2,
            _ => 1,
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Runs one command.
pub fn run(cli: Cli) -> CliResult {
    if let Command::Demo(args) = cli.command {
        return crate::demo::run(&args).map_err(|e| CliError::Usage(e.to_string()));
    }
    let gw = Gridwork::open(&cli.store)?;
    let json = cli.json;
    match cli.command {
        Command::Demo(_) => unreachable!("handled above"),
        Command::Device(cmd) => device::device(&gw, cmd, json),
        Command::Sync { wait } => device::sync(&gw, wait, json),
        Command::Area(cmd) => records::area(&gw, cmd, json),
        Command::Building(cmd) => records::building(&gw, cmd, json),
        Command::Household(cmd) => records::household(&gw, cmd, json),
        Command::Resident(cmd) => records::resident(&gw, cmd, json),
        Command::Tenant(cmd) => records::tenant(&gw, cmd, json),
        Command::Search { query, limit } => records::search(&gw, &query, limit, json),
        Command::Hazard(cmd) => cases::hazard(&gw, cmd, json),
        Command::Dispute(cmd) => cases::dispute(&gw, cmd, json),
        Command::Alarm(cmd) => cases::alarm(&gw, cmd, json),
        Command::Case(cmd) => cases::case(&gw, cmd, json),
        Command::Conflicts(cmd) => cases::conflicts(&gw, cmd, json),
        Command::Brief { area, week_start } => cases::brief(&gw, area, week_start, json),
        Command::Soak(args) => soak::soak(&gw, &args),
    }
}

/// Today by the device's corrected clock, in China time.
pub fn today(gw: &Gridwork) -> chrono::NaiveDate {
    let ms = gw.now_ms() as i64 + 8 * 3_600_000;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// A time in ms as China local time, `MM-DD HH:MM`.
pub fn local_time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64 + 8 * 3_600_000)
        .map(|d| d.format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
