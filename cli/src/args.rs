//! The command line: every subcommand and flag of `gridwork`, parsed by clap.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use gridwork_domain::model::{
    AreaLevel, BuildingKind, CaseKind, HouseholdKind, KeyGroup, Severity, Term,
};
use gridwork_domain::workflow::DefenceLevel;
use uuid::Uuid;

/// A gridwork device from the terminal.
#[derive(Debug, Parser)]
#[command(name = "gridwork", version, about, long_about = None)]
pub struct Cli {
    /// The device's store (a SQLite file; created on first use).
    #[arg(
        long,
        global = true,
        env = "GRIDWORK_STORE",
        default_value = "gridwork-device.db"
    )]
    pub store: PathBuf,
    /// The store's encryption key: a file holding 64 hexadecimal digits (make one with
    /// `gridwork device new-key`). A new store opened with a key is created encrypted; an
    /// encrypted store opens only with its key. The key is read from a file, never taken on the
    /// command line or from an environment variable, so it stays out of shell history and
    /// process listings.
    #[arg(long, global = true, env = "GRIDWORK_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Print listings and results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log to standard error at this level (error, warn, info, debug, trace); no log by default.
    /// Log lines never carry names, phones or ID numbers.
    #[arg(long, global = true, env = "GRIDWORK_LOG")]
    pub log: Option<String>,
    /// The language of states, headers and messages: zh (中文, the default) or en. `--json`
    /// keeps the stable codes in either.
    #[arg(long, global = true, env = "GRIDWORK_LANG", value_parser = parse_lang)]
    pub lang: Option<gridwork_i18n::Lang>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole system on embedded defaults: a sync server, five devices and a day of
    /// field work, then show convergence, the conflict, open cases and the weekly brief.
    Demo(DemoArgs),
    /// Enroll this device, or show its status.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Push local changes and pull others' (optionally wait for news, up to 30 s).
    Sync {
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Areas: districts down to micro-grids.
    #[command(subcommand)]
    Area(AreaCmd),
    /// Buildings of an area.
    #[command(subcommand)]
    Building(BuildingCmd),
    /// Households: add, edit, archive, list.
    #[command(subcommand)]
    Household(HouseholdCmd),
    /// Residents: add, edit, archive, list (ID numbers masked).
    #[command(subcommand)]
    Resident(ResidentCmd),
    /// Tenant registration (hotel-style check-in and check-out).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Report a hazard (隐患).
    #[command(subcommand)]
    Hazard(HazardCmd),
    /// Log a dispute (矛盾纠纷).
    #[command(subcommand)]
    Dispute(DisputeCmd),
    /// Raise a fire alarm; the crew acknowledges, sets off and arrives.
    #[command(subcommand)]
    Alarm(AlarmCmd),
    /// Take a 12345 hotline case in (签收, 审核交办 to a named assignee).
    #[command(subcommand)]
    Hotline(HotlineCmd),
    /// Raise an incident (事件: a 110 non-police event, a dispute at the scene…) and dispatch
    /// it on minute-level response times.
    #[command(subcommand)]
    Incident(IncidentCmd),
    /// Cases: list open ones most urgent first, show a timeline, record a step.
    #[command(subcommand)]
    Case(CaseCmd),
    /// Photos of cases (照片): list a case's with their upload, save one to a file, upload
    /// the queued ones, set when they upload.
    #[command(subcommand)]
    Attachment(AttachmentCmd),
    /// Patrols (巡查): start one, check in at buildings, report findings, end it, review it.
    #[command(subcommand)]
    Patrol(PatrolCmd),
    /// Key groups (重点人群): record a visit, list the residents whose visit is overdue.
    #[command(subcommand)]
    KeyGroup(KeyGroupCmd),
    /// Micro fire stations (微型消防站) on this device.
    #[command(subcommand)]
    Station(StationCmd),
    /// Search names, addresses, phones and case titles.
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Values of yours that lost to a concurrent edit, and flagged case events.
    #[command(subcommand)]
    Conflicts(ConflictCmd),
    /// Your changes the server refused (the records show the server's values again): list
    /// them with the reason, discard one, or make it again as a new change.
    #[command(subcommand)]
    Refused(RefusedCmd),
    /// The weekly brief (工作简报) of an area.
    Brief {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
        /// The week's first day, a Monday (default: the previous Monday–Sunday, the week the
        /// Tuesday meeting reviews).
        #[arg(long)]
        week_start: Option<NaiveDate>,
    },
    /// For crash tests: write and sync without end, printing a JSON line before and after each
    /// step, until killed (see `commands/soak.rs`).
    #[command(hide = true)]
    Soak(SoakArgs),
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// The grid whose buildings get the households and hazards.
    #[arg(long)]
    pub area: Uuid,
    /// This device's mark, one digit 1-9: its households' units start with it, its phone
    /// numbers with `13` and it; it edits only households it made.
    #[arg(long)]
    pub tag: u8,
    /// Makes values unique across runs (below 1000) and picks the random steps.
    #[arg(long)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Makes the run repeatable: the same seed, the same subdistrict and the same day.
    #[arg(long, default_value_t = 20261123)]
    pub seed: u64,
    /// Keep the server and device stores here instead of a temporary folder.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Enroll with a one-time code from the administrator.
    Enroll {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "terminal")]
        name: String,
        /// A PEM file with the CA certificate of an https:// server that uses a private CA;
        /// kept by the device and trusted, besides the public roots, from then on.
        #[arg(long, value_name = "PEM")]
        ca_cert: Option<std::path::PathBuf>,
    },
    /// This device: id, user, server, unsynced changes, sync state.
    Status,
    /// How long a checked-out tenant's personal data stays on this device (the subdistrict's
    /// policy); with `--days`, set it and purge what the new period covers at once.
    Retention {
        /// Days after check-out (0 to 3650; the default policy is 90).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Write a new random encryption key to a file (readable by its owner only), for
    /// `--key-file`.
    NewKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write every change not yet accepted by the server to a file, as JSON lines. Works on a
    /// damaged store too (it reads a copy and changes nothing).
    ExportUnsynced {
        #[arg(long)]
        out: PathBuf,
    },
    /// Recover a damaged store: move its files aside (never deleted), keep every unsynced
    /// change that can still be read (in a new store and in an export file), and let the next
    /// sync fetch the rest from the server again.
    Recover {
        /// Where to write the export (default: beside the store, named with the time).
        #[arg(long)]
        export: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AreaCmd {
    /// Areas under a parent (the districts without one).
    List {
        /// The parent: its code or id.
        #[arg(long)]
        parent: Option<AreaRef>,
    },
    /// One area (by code or id), with the response policy in force there.
    Show { id: AreaRef },
    /// Create an area under another (a new grid when grids are redrawn; an admin's step, as
    /// the server's `area create`); prints its id.
    Create {
        /// Its code (a grid: its community's 12 digits and 3 more).
        #[arg(long)]
        code: String,
        /// The area's name.
        #[arg(long)]
        name: String,
        /// 区 district, 街道 subdistrict, 网层 grid_layer, 社区 community, 网格 grid, 微网格 micro_grid.
        #[arg(long, value_parser = parse_area_level)]
        level: AreaLevel,
        /// The area above: its code or id (none for a district).
        #[arg(long)]
        parent: Option<AreaRef>,
    },
    /// Rename an area (an admin's step, as the server's `area rename`).
    Rename {
        /// The area: its code or id.
        id: AreaRef,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// A subdistrict's response policy (响应时限) for alarms and incidents: with no option, its
    /// history; with `--preset` and/or minutes, set a new one from now on (an admin's step: the
    /// server refuses anyone else's; events opened before keep theirs).
    Policy {
        /// The subdistrict.
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
        /// `1-3-10` (the city's) or `wulin` (1/5/30); the minutes below change it.
        #[arg(long)]
        preset: Option<String>,
        /// The policy's name (default: the preset's, or `custom` with changed minutes).
        #[arg(long)]
        name: Option<String>,
        /// Minutes to receive (接收).
        #[arg(long, value_name = "MIN")]
        receive: Option<f64>,
        /// Minutes to respond (响应).
        #[arg(long, value_name = "MIN")]
        respond: Option<f64>,
        /// Minutes to be on scene (到达现场).
        #[arg(long, value_name = "MIN")]
        on_scene: Option<f64>,
        /// Minutes to report back (反馈).
        #[arg(long, value_name = "MIN")]
        report_back: Option<f64>,
        /// Minutes for a fire crew to be on scene (五分钟救援圈).
        #[arg(long, value_name = "MIN")]
        fire_arrival: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BuildingCmd {
    /// Buildings in an area of any level.
    List {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
    /// Add a building to a grid (a new building in your grid); prints its id.
    Add {
        /// The grid: its code or id.
        #[arg(long)]
        grid: AreaRef,
        /// A micro-grid of that grid: its code or id.
        #[arg(long)]
        micro_grid: Option<AreaRef>,
        /// Its unified address code (统一地址编码, 19 digits, starting with the grid's code).
        #[arg(long)]
        address_code: String,
        /// The address as people say it (梅花碑社区 3 幢).
        #[arg(long)]
        address: String,
        #[arg(long, value_parser = parse_building_kind, default_value = "residential")]
        kind: BuildingKind,
        /// Its micro fire station (`gridwork station list`).
        #[arg(long)]
        station: Option<Uuid>,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
    /// Change a building's kind, head, address, station, micro-grid or position (its grid
    /// changes with the server's `area move-buildings`).
    Edit {
        /// The building: its unified address code or id.
        id: BuildingRef,
        #[arg(long, value_parser = parse_building_kind)]
        kind: Option<BuildingKind>,
        #[arg(long)]
        head: Option<Uuid>,
        /// The address as people say it.
        #[arg(long)]
        address: Option<String>,
        /// Its micro fire station (`gridwork station list`).
        #[arg(long)]
        station: Option<Uuid>,
        /// A micro-grid of its grid: its code or id.
        #[arg(long)]
        micro_grid: Option<AreaRef>,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
    /// A building's photos (a blocked exit, a hazard seen): add, list, remove.
    #[command(subcommand)]
    Photo(RecordPhotoCmd),
}

/// The photos of a building or household (`building photo …`, `household photo …`).
#[derive(Debug, Subcommand)]
pub enum RecordPhotoCmd {
    /// Add a photo (JPEG or PNG): recorded at once (offline too), queued for upload
    /// (`attachment upload`).
    Add {
        /// The building (address code or id) or household (`CODE/UNIT` or id).
        id: String,
        #[arg(long)]
        photo: PathBuf,
    },
    /// The photos: each picture and thumbnail, its size, and its upload (this phone's) or
    /// whether it is on this phone (others').
    List { id: String },
    /// Remove a photo, named by its picture's hash.
    Remove { id: String, hash: String },
}

impl RecordPhotoCmd {
    /// The record named, as given.
    pub fn id(&self) -> &str {
        match self {
            RecordPhotoCmd::Add { id, .. }
            | RecordPhotoCmd::List { id }
            | RecordPhotoCmd::Remove { id, .. } => id,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum HouseholdCmd {
    List {
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: BuildingRef,
        /// Include households that moved out.
        #[arg(long)]
        archived: bool,
    },
    Add {
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: BuildingRef,
        #[arg(long)]
        unit: String,
        #[arg(long, value_parser = parse_household_kind)]
        kind: HouseholdKind,
        #[arg(long)]
        phone: Option<String>,
    },
    Edit {
        id: Uuid,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, value_parser = parse_household_kind)]
        kind: Option<HouseholdKind>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// The household moved out: archived, not deleted.
    Archive { id: Uuid },
    /// A household's photos (a rented room's state): add, list, remove.
    #[command(subcommand)]
    Photo(RecordPhotoCmd),
}

#[derive(Debug, Subcommand)]
pub enum ResidentCmd {
    /// The residents of a household, ID numbers masked.
    List {
        /// The household: its building's address code and unit (`3301050120010010001/2-301`),
        /// or its id.
        #[arg(long)]
        household: HouseholdRef,
    },
    /// One resident, with the whole ID number for the roles that may see it.
    Show {
        id: Uuid,
    },
    Add {
        /// The household: its building's address code and unit (`3301050120010010001/2-301`),
        /// or its id.
        #[arg(long)]
        household: HouseholdRef,
        #[arg(long)]
        name: String,
        #[arg(long)]
        id_number: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long = "key-group", value_parser = parse_key_group)]
        key_groups: Vec<KeyGroup>,
    },
    Edit {
        id: Uuid,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// The resident's ID number (18 characters), recorded or corrected.
        #[arg(long)]
        id_number: Option<String>,
        /// The key groups from now on (重点人群: 独居老人, 留守儿童, 残疾人), comma separated;
        /// `--key-group ""` clears them.
        #[arg(long = "key-group", value_parser = parse_key_group_or_none, value_delimiter = ',')]
        key_groups: Option<Vec<Option<KeyGroup>>>,
        /// The room they moved to: its building's address code and unit, or its id.
        #[arg(long)]
        household: Option<HouseholdRef>,
    },
    Archive {
        id: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Check a tenant in (the resident must already be recorded in the household).
    CheckIn {
        #[arg(long)]
        resident: Uuid,
        /// The household: its building's address code and unit (`3301050120010010001/2-301`),
        /// or its id.
        #[arg(long)]
        household: HouseholdRef,
        /// Default: today.
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        until: Option<NaiveDate>,
    },
    CheckOut {
        registration: Uuid,
        /// Default: today.
        #[arg(long)]
        on: Option<NaiveDate>,
    },
    /// A resident's stays.
    List {
        #[arg(long)]
        resident: Uuid,
    },
    /// Registration per person (人房匹配) and per room of an area, its grids and buildings.
    Rate {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
    /// Occupied rental rooms of an area where someone is still to register.
    Rooms {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
    /// People of an area living in rental rooms without a registration (ID numbers masked).
    Unregistered {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
    /// Stays of an area expected to end within some days (到期提醒).
    Expiring {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Stays of an area past their expected end and not checked out.
    Overdue {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatrolCmd {
    /// Start a patrol of an area (your grid) now; prints its id.
    Start {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
    /// Check in at a building on the patrol.
    Visit {
        patrol: Uuid,
        /// The building: its unified address code or id.
        #[arg(long)]
        building: BuildingRef,
        #[arg(long)]
        note: Option<String>,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
    /// Report what was found at a building on the patrol: a hazard (隐患) or a finding.
    Finding {
        patrol: Uuid,
        /// The building: its unified address code or id.
        #[arg(long)]
        building: BuildingRef,
        #[arg(long)]
        title: String,
        /// hazard (隐患) or patrol_finding (巡查发现).
        #[arg(long, value_parser = parse_case_kind, default_value = "patrol_finding")]
        kind: CaseKind,
        #[arg(long, default_value = "fire")]
        category: String,
        #[arg(long, value_parser = parse_severity, default_value = "medium")]
        severity: Severity,
    },
    /// End the patrol now.
    End { patrol: Uuid },
    /// A patrol with its visits and findings.
    Show { patrol: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum KeyGroupCmd {
    /// Record a visit to a key-group resident now.
    Visit {
        #[arg(long)]
        resident: Uuid,
    },
    /// Key-group residents of an area whose visit is overdue, the latest first.
    Overdue {
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
    },
}

#[derive(Debug, Subcommand)]
pub enum StationCmd {
    /// Every micro fire station this device holds.
    List,
    /// Add a micro fire station serving an area (a dispatcher's or an admin's step); prints its
    /// id.
    Add {
        /// The area it serves (a community or subdistrict): its code or id.
        #[arg(long)]
        area: AreaRef,
        #[arg(long)]
        name: String,
        #[arg(long)]
        lat: f64,
        #[arg(long)]
        lon: f64,
        /// Its duty phone.
        #[arg(long)]
        phone: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HazardCmd {
    Report {
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: BuildingRef,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "fire")]
        category: String,
        #[arg(long, value_parser = parse_severity, default_value = "medium")]
        severity: Severity,
    },
}

#[derive(Debug, Subcommand)]
pub enum DisputeCmd {
    Log {
        /// The grid (or micro-grid) the dispute is in.
        /// The area: its code or id.
        #[arg(long)]
        area: AreaRef,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "neighbours")]
        category: String,
        /// low/medium: a small matter (settled the same day); high/critical: a big one.
        #[arg(long, value_parser = parse_severity, default_value = "low")]
        severity: Severity,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlarmCmd {
    /// Raise a fire alarm at a building; it is dispatched to the building's micro fire station.
    Raise {
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: BuildingRef,
        #[arg(long)]
        title: String,
    },
    /// The crew has received the alarm (接收).
    Acknowledge { case: Uuid },
    /// The crew sets off (出发), from where it is.
    EnRoute {
        case: Uuid,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
    /// The crew confirms arrival on scene (到达现场), where it is.
    Arrive {
        case: Uuid,
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HotlineCmd {
    /// Take a case in from the 12345 platform; with `--assignee`, accept it (签收) and assign it
    /// (审核交办) to that user.
    Open {
        /// The grid the request is about (default: the building's grid).
        #[arg(long, required_unless_present = "building")]
        area: Option<AreaRef>,
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: Option<BuildingRef>,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "request")]
        category: String,
        #[arg(long, value_parser = parse_severity, default_value = "medium")]
        severity: Severity,
        /// The user who handles it (审核办理).
        #[arg(long)]
        assignee: Option<Uuid>,
        /// The handling deadline the platform set: the end of this day (local time).
        #[arg(long, requires = "assignee")]
        due: Option<NaiveDate>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// Raise an incident; with `--responder`, dispatch it (派单) to that user.
    Raise {
        /// The grid it happens in (default: the building's grid).
        #[arg(long, required_unless_present = "building")]
        area: Option<AreaRef>,
        /// The building: its unified address code (统一地址编码) or id.
        #[arg(long)]
        building: Option<BuildingRef>,
        #[arg(long)]
        title: String,
        /// e.g. `police_110`, `grid_event`, `dispute_at_scene`.
        #[arg(long, default_value = "event")]
        category: String,
        #[arg(long, value_parser = parse_severity, default_value = "medium")]
        severity: Severity,
        #[arg(long)]
        responder: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// Open cases, most urgent first (red, yellow, green).
    List {
        /// Only cases in this area (code or id).
        #[arg(long)]
        area: Option<AreaRef>,
        /// Only the cases of this kind.
        #[arg(long, value_parser = parse_case_kind)]
        kind: Option<CaseKind>,
        /// Only the cases waiting on you (assigned to you, dispatched to your station).
        #[arg(long, conflicts_with = "area")]
        mine: bool,
    },
    /// A case and its timeline.
    Show { id: Uuid },
    /// Record a lifecycle step: accept, review-assign, handle, completion-review, send-back,
    /// call-back, close, dispatch, acknowledge, en-route, arrive, resolve, review, assign, fix,
    /// recheck-pass, recheck-fail, mediate, escalate, settle, not-settled, note, photo.
    Act {
        id: Uuid,
        action: String,
        /// The defence level for mediate/escalate/settle/not-settled.
        #[arg(long, value_parser = parse_level)]
        level: Option<DefenceLevel>,
        /// The reason (send-back, escalate, not-settled), agreement (settle) or note text.
        #[arg(long)]
        text: Option<String>,
        /// The station for dispatch.
        #[arg(long)]
        station: Option<Uuid>,
        /// The user for review-assign and assign (an incident's responder).
        #[arg(long)]
        assignee: Option<Uuid>,
        /// The deadline for review-assign and assign: the end of this day (local time).
        #[arg(long)]
        due: Option<NaiveDate>,
        /// The resident's answer at the call-back (回访): yes (满意) or no (不满意).
        #[arg(long, value_parser = parse_yes_no)]
        satisfied: Option<bool>,
        /// Where the crew or responder is, for en-route and arrive.
        #[arg(long, requires = "lon")]
        lat: Option<f64>,
        #[arg(long, requires = "lat")]
        lon: Option<f64>,
        /// A photo (JPEG or PNG) for the `photo` step; with any other step, a photo step is
        /// recorded after it (整改前后: `fix --photo after.jpg`).
        #[arg(long)]
        photo: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AttachmentCmd {
    /// A case's photos: each picture and thumbnail, its size, and its upload (this phone's) or
    /// whether it is on this phone (others').
    List { case: Uuid },
    /// Writes a picture or thumbnail to a new file: from this phone, else fetched from the
    /// server (checked against its hash).
    Get {
        hash: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Uploads the queued photos (resumed where the server's bytes end).
    Upload {
        /// The network is unmetered (Wi-Fi): photos go under the `unmetered` policy too.
        #[arg(long)]
        unmetered: bool,
    },
    /// When photos upload: any (any network), unmetered (Wi-Fi only), paused.
    Policy { policy: String },
}

#[derive(Debug, Subcommand)]
pub enum RefusedCmd {
    /// Every refused change, oldest first, with why it was refused.
    List,
    /// Drop a refused change for good (the record keeps the server's values).
    Discard { id: Uuid },
    /// Make the refused change again, as a new change checked like any other.
    Redo { id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum ConflictCmd {
    List,
    /// Write your losing value again.
    Reapply {
        id: Uuid,
    },
    /// Accept the winner.
    Dismiss {
        id: Uuid,
    },
}

/// A building named on the command line: by its unified address code (统一地址编码, the
/// 19 digits offices use) or by its id. Resolved against the device's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildingRef(pub String);

impl std::str::FromStr for BuildingRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(gridwork_i18n::t("cli-give-building"));
        }
        Ok(BuildingRef(s.to_string()))
    }
}

/// A household named on the command line: by its building's address code and its unit
/// (`3301050120010010001/2-301`), or by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdRef(pub String);

impl std::str::FromStr for HouseholdRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(gridwork_i18n::t("cli-give-household"));
        }
        Ok(HouseholdRef(s.to_string()))
    }
}

/// An area named on the command line: by its code (`330105012001001`) or by its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaRef(pub String);

impl std::str::FromStr for AreaRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(gridwork_i18n::t("cli-give-area"));
        }
        Ok(AreaRef(s.to_string()))
    }
}

fn parse_term<T: Term>(s: &str) -> Result<T, String> {
    T::from_term(s)
        .ok_or_else(|| gridwork_i18n::tr("cli-expected-one-of", &[("choices", &T::choices())]))
}

fn parse_household_kind(s: &str) -> Result<HouseholdKind, String> {
    parse_term(s)
}
fn parse_area_level(s: &str) -> Result<AreaLevel, String> {
    parse_term(s)
}
fn parse_building_kind(s: &str) -> Result<BuildingKind, String> {
    parse_term(s)
}
fn parse_key_group(s: &str) -> Result<KeyGroup, String> {
    parse_term(s)
}
/// A key group, or none (`""`: the list is cleared).
fn parse_key_group_or_none(s: &str) -> Result<Option<KeyGroup>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_term(s).map(Some)
    }
}
fn parse_severity(s: &str) -> Result<Severity, String> {
    parse_term(s)
}
fn parse_case_kind(s: &str) -> Result<CaseKind, String> {
    parse_term(s)
}
fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim() {
        "yes" | "y" | "true" | "是" | "满意" => Ok(true),
        "no" | "n" | "false" | "否" | "不满意" => Ok(false),
        _ => Err(gridwork_i18n::t("cli-expected-yes-no")),
    }
}
fn parse_level(s: &str) -> Result<DefenceLevel, String> {
    parse_term(s)
}

/// `--lang`: zh, zh-CN, en, en_US.UTF-8, …
fn parse_lang(text: &str) -> Result<gridwork_i18n::Lang, String> {
    gridwork_i18n::Lang::parse(text).ok_or_else(|| gridwork_i18n::t("cli-expected-lang"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use gridwork_i18n::usage::{description_problems, descriptions};
    use gridwork_i18n::{Lang, ZH_FTL, keys_of};

    /// Every command and flag of `gridwork` (hidden ones too) has a description in Chinese and
    /// in English, `--help` shows it in the language asked for, and the catalogue has no
    /// description of a command or flag that is gone.
    #[test]
    fn every_command_and_flag_has_a_description_in_both_languages() {
        let command = super::Cli::command();
        let all = descriptions(&command);
        assert!(all.len() > 200, "the commands were walked: {}", all.len());
        let problems = description_problems(&command);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        let keys: Vec<&str> = all.iter().map(|d| d.key.as_str()).collect();
        for key in keys_of(ZH_FTL) {
            if key == "help-gridwork" || key.starts_with("help-gridwork-") {
                if key.starts_with("help-gridwork-server") {
                    continue;
                }
                assert!(keys.contains(&key), "{key} describes nothing");
            }
        }
        let help = |lang: Lang, path: &[&str]| {
            let mut command = gridwork_i18n::usage::localize(super::Cli::command(), lang);
            let mut at = &mut command;
            for name in path {
                at = at.find_subcommand_mut(name).expect("the subcommand");
            }
            at.render_help().to_string()
        };
        let zh = help(Lang::Zh, &["case", "act"]);
        for words in ["记录一个流程步骤", "案件编号"] {
            assert!(zh.contains(words), "{words} in:\n{zh}");
        }
        assert!(!zh.contains("Record a lifecycle step"), "{zh}");
        let en = help(Lang::En, &["case", "act"]);
        for words in ["Record a lifecycle step", "The case's id"] {
            assert!(en.contains(words), "{words} in:\n{en}");
        }
        let root = help(Lang::Zh, &[]);
        assert!(root.contains("注册本设备，或查看其状态"), "{root}");
        assert!(root.contains("设备的本机数据库"), "{root}");
        assert!(!root.contains("Enroll this device"), "{root}");
    }
}
