//! Running a parsed command against the device store. One file per group of commands; this one
//! opens the store, maps errors to exit codes and dispatches.

mod attachments;
mod cases;
mod device;
mod field;
mod records;
mod soak;

use std::path::Path;

use gridwork_core::{Error as CoreError, Gridwork, OpenOptions, StoreKey, SyncError};

use uuid::Uuid;

use crate::args::{AreaRef, BuildingRef, Cli, Command, DeviceCmd, HouseholdRef};

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
    /// 2: input the user can correct; 3: the store cannot be opened as it is (damaged: run
    /// `gridwork device recover`; or a wrong or missing key); 1: anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Core(
                CoreError::Invalid(_)
                | CoreError::Transition(_)
                | CoreError::NotAllowed(_)
                | CoreError::NotFound { .. },
            ) => 2,
            CliError::Core(
                CoreError::StoreDamaged(_)
                | CoreError::WrongKey
                | CoreError::KeyRequired
                | CoreError::NotEncrypted,
            ) => 3,
            _ => 1,
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Runs one command.
pub fn run(cli: Cli) -> CliResult {
    if let Command::Demo(args) = cli.command {
        return crate::demo::run(&args).map_err(|e| CliError::Usage(crate::i18n::demo_error(&*e)));
    }
    let json = cli.json;
    let options = OpenOptions {
        key: cli.key_file.as_deref().map(read_key).transpose()?,
        ..OpenOptions::default()
    };
    // The commands that work on a store that does not open, or on no store at all.
    match cli.command {
        Command::Device(DeviceCmd::NewKey { out }) => return device::new_key(&out, json),
        Command::Device(DeviceCmd::Recover { export }) => {
            return device::recover(&cli.store, &options, export, json);
        }
        Command::Device(DeviceCmd::ExportUnsynced { out }) => {
            return device::export_unsynced(&cli.store, &options, &out, json);
        }
        _ => {}
    }
    let gw = Gridwork::open_with(&cli.store, options)?;
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
        Command::Hotline(cmd) => cases::hotline(&gw, cmd, json),
        Command::Incident(cmd) => cases::incident(&gw, cmd, json),
        Command::Case(cmd) => cases::case(&gw, cmd, json),
        Command::Attachment(cmd) => attachments::attachment(&gw, cmd, json),
        Command::Patrol(cmd) => field::patrol(&gw, cmd, json),
        Command::KeyGroup(cmd) => field::key_group(&gw, cmd, json),
        Command::Station(cmd) => field::station(&gw, cmd, json),
        Command::Conflicts(cmd) => cases::conflicts(&gw, cmd, json),
        Command::Refused(cmd) => cases::refused(&gw, cmd, json),
        Command::Brief { area, week_start } => cases::brief(&gw, area.id(&gw)?, week_start, json),
        Command::Soak(args) => soak::soak(&gw, &args),
    }
}

impl BuildingRef {
    /// The building's id: the one given, or the building with that address code on this
    /// device.
    pub fn id(&self, gw: &Gridwork) -> CliResult<Uuid> {
        if let Ok(id) = self.0.parse::<Uuid>() {
            return Ok(id);
        }
        match gw.building_by_address_code(&self.0)? {
            Some(b) => Ok(b.id),
            None => Err(CliError::Usage(crate::i18n::tr(
                "cli-no-building-code",
                &[("code", &self.0)],
            ))),
        }
    }
}

impl HouseholdRef {
    /// The household's id: the one given, or the household of that unit of the building with
    /// that address code on this device.
    pub fn id(&self, gw: &Gridwork) -> CliResult<Uuid> {
        if let Ok(id) = self.0.parse::<Uuid>() {
            return Ok(id);
        }
        let usage = || CliError::Usage(crate::i18n::tr("cli-no-household", &[("value", &self.0)]));
        let (code, unit) = self.0.split_once('/').ok_or_else(usage)?;
        let building = BuildingRef(code.to_string()).id(gw)?;
        gw.households_of_building(building, true)?
            .into_iter()
            .find(|h| h.unit == unit.trim())
            .map(|h| h.id)
            .ok_or_else(usage)
    }
}

impl AreaRef {
    /// The area's id: the one given, or the area with that code on this device.
    pub fn id(&self, gw: &Gridwork) -> CliResult<Uuid> {
        if let Ok(id) = self.0.parse::<Uuid>() {
            return Ok(id);
        }
        match gw.area_by_code(&self.0)? {
            Some(a) => Ok(a.id),
            None => Err(CliError::Usage(crate::i18n::tr(
                "cli-no-area-code",
                &[("code", &self.0)],
            ))),
        }
    }
}

/// A file named by a flag could not be read or written: the flag, the file, the system's reason.
pub fn file_error(flag: &str, path: &Path, e: &std::io::Error) -> CliError {
    CliError::Usage(crate::i18n::tr(
        "cli-file-error",
        &[
            ("flag", flag),
            ("file", &path.display().to_string()),
            ("reason", &crate::i18n::io_reason(e)),
        ],
    ))
}

/// Reads a key file: 64 hexadecimal digits.
fn read_key(path: &Path) -> CliResult<StoreKey> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error("--key-file", path, &e))?;
    Ok(StoreKey::from_hex(&text).map_err(CoreError::from)?)
}

/// Today by the device's corrected clock, in China time.
pub fn today(gw: &Gridwork) -> chrono::NaiveDate {
    let ms = gw.now_ms() as i64 + 8 * 3_600_000;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// The last millisecond of `day` in China time: a deadline given as a day.
pub fn end_of_day_ms(day: chrono::NaiveDate) -> u64 {
    let next = day.succ_opt().unwrap_or(day);
    let local = next
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis();
    (local - 8 * 3_600_000 - 1).max(0) as u64
}

/// A time in ms as China local time, `MM-DD HH:MM`.
pub fn local_time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64 + 8 * 3_600_000)
        .map(|d| d.format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
