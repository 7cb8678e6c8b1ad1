//! `gridwork-server import`: a subdistrict's base data from the files its office keeps (areas
//! with their hierarchy, micro fire stations, buildings with their unified address codes and
//! positions, households, residents, users with their roles and scopes), in CSV or XLSX, with
//! the column names a Chinese office uses ([`columns`], `docs/import.md`).
//!
//! Every row is checked by the domain's rules (the same `Entity::normalize` a phone runs, the
//! code hierarchy, what a row names must exist); a row that fails is refused and reported with
//! its file, row, column and reason, never its value. The rest is written through the push
//! planner, as the server's [`Operator`], so each record is filed under its scope buckets and
//! phones receive it by sync. Rows are keyed by what an office keys them by (an area's code, a
//! building's address code, a station's name, a building and unit, an ID number, a user's
//! name): importing a corrected file again changes only what changed and never duplicates. A
//! dry run checks everything and writes nothing.

use std::collections::{BTreeMap, HashMap};

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{
    Area, AreaLevel, Building, BuildingKind, Entity, Household, HouseholdKind, KeyGroup, Resident,
    Station, Term,
};
use gridwork_domain::op::{EntityKind, Op};
use gridwork_domain::sync::refusal::refusal_words;
use gridwork_domain::sync::{PushOutcome, Role};
use gridwork_domain::validate::{AddressCode, Position, ResidentId, ValidationError, address_code};

use crate::operator::{Directory, Operator};
use crate::storage::{Storage, StorageError};

pub mod columns;
pub mod sample;
pub mod table;

use columns::*;
pub use columns::{Kind, Layout};
pub use table::{Cell, FileError, Table};

/// A row refused, as the report shows it: never the cell's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file (or workbook and sheet).
    pub source: String,
    /// The row number in the file (the header is row 1).
    pub row: usize,
    /// The column, by its header (empty when the whole row is refused by the server).
    pub field: String,
    /// The reason in the importer's English words (the catalogue's English of [`Refusal::words`]
    /// when it has them).
    pub reason: String,
    /// The reason as a catalogue message with its arguments, when it carries a value (a row
    /// number, the accepted values, an area's level); `None` for a fixed reason, whose words
    /// are `why-` and its English made a key.
    pub words: Option<Words>,
}

/// A reason with a value in it as a catalogue message: the key (`import-why-…`) and its
/// arguments. Never a cell's value: a row number, a file name, the accepted values, a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

/// An argument of [`Words`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// The same in every language (a row number, a file name).
    Text(String),
    /// The words of a catalogue key (`area-grid`, `deny-role-gridworker`).
    Key(String),
    /// Its own text in each language (the accepted values, Chinese or code first).
    ByLang { zh: String, en: String },
    /// A push's refusal: the server's code and English reason, in words of each language
    /// (`refusal-` and the code, [`refusal_words`]).
    Refused { code: String, message: String },
}

impl Words {
    fn new(key: &'static str, args: Vec<(&'static str, Arg)>) -> Words {
        Words { key, args }
    }

    /// The message in `lang`.
    pub fn render(&self, lang: gridwork_i18n::Lang) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(name, arg)| {
                let text = match arg {
                    Arg::Text(t) => t.clone(),
                    Arg::Key(k) => lang.t(k),
                    Arg::ByLang { zh, en } => match lang {
                        gridwork_i18n::Lang::Zh => zh.clone(),
                        gridwork_i18n::Lang::En => en.clone(),
                    },
                    Arg::Refused { code, message } => refusal_words(code, message, lang),
                };
                (*name, text)
            })
            .collect();
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lang.tr(self.key, &args)
    }

    /// The values of a fixed kind a cell may hold: `出租 (rental)、…` in Chinese, `rental
    /// (出租), …` in English.
    fn choices<T: Term>() -> Arg {
        let zh = T::all()
            .iter()
            .map(|v| format!("{} ({})", v.zh(), v.code()))
            .collect::<Vec<_>>()
            .join("、");
        Arg::ByLang {
            zh,
            en: T::choices(),
        }
    }

    fn unknown_value<T: Term>() -> Words {
        Words::new(
            "import-why-unknown-value",
            vec![("choices", Words::choices::<T>())],
        )
    }
}

impl Refusal {
    /// The reason in `lang`: its [`Words`], else `why-` and its English made a key, else the
    /// English as given.
    pub fn reason_in(&self, lang: gridwork_i18n::Lang) -> String {
        if let Some(words) = &self.words {
            return words.render(lang);
        }
        lang.get(&format!("why-{}", gridwork_i18n::slug(&self.reason)))
            .unwrap_or_else(|| self.reason.clone())
    }
}

/// What happened to one kind's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    pub counts: BTreeMap<Kind, Counts>,
    /// Every refused row, kind by kind in the order they are read.
    pub refused: Vec<Refusal>,
}

impl Report {
    /// Every row refused, as CSV with Chinese headers (文件,行,字段,原因).
    pub fn refused_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(vec![]);
        let _ = w.write_record(["文件", "行", "字段", "原因"]);
        for r in &self.refused {
            let _ = w.write_record([&r.source, &r.row.to_string(), &r.field, &r.reason]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// Where an import reports how far it is.
pub trait Progress {
    /// A stage starts with `total` steps.
    fn stage(&mut self, what: &str, total: u64);
    /// `done` steps of the stage are done.
    fn set(&mut self, done: u64);
}

/// No progress shown.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn stage(&mut self, _: &str, _: u64) {}
    fn set(&mut self, _: u64) {}
}

/// Checks every row of `tables` and, unless `dry_run`, writes the good ones into `storage`.
pub async fn import<S: Storage>(
    storage: &S,
    mut tables: Vec<Table>,
    dry_run: bool,
    progress: &mut dyn Progress,
) -> Result<Report, StorageError> {
    tables.sort_by_key(|t| t.kind);
    progress.stage(&gridwork_i18n::t("import-stage-reading"), 1);
    let dir = Directory::load(storage).await?;
    progress.set(1);
    let mut run = Run {
        dir,
        operator: Operator::new(),
        report: Report {
            dry_run,
            ..Report::default()
        },
        seen: HashMap::new(),
        pending: vec![],
    };
    for kind in Kind::ALL {
        let of_kind: Vec<&Table> = tables.iter().filter(|t| t.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        run.report.counts.entry(kind).or_default();
        let total: usize = of_kind.iter().map(|t| t.rows.len()).sum();
        progress.stage(
            &gridwork_i18n::tr("import-stage-checking", &[("kind", kind.words())]),
            total as u64,
        );
        let mut done = 0u64;
        let mut users = vec![];
        for table in of_kind {
            let layout = match Layout::of(kind, &table.headers) {
                Ok(l) => l,
                Err(missing) => {
                    for c in missing {
                        let words = Words::new(
                            "import-why-no-column",
                            vec![
                                ("zh", Arg::Text(c.zh.to_string())),
                                ("en", Arg::Text(c.en.to_string())),
                            ],
                        );
                        run.report.refused.push(Refusal {
                            source: table.source.clone(),
                            row: 1,
                            field: c.zh.to_string(),
                            reason: words.render(gridwork_i18n::Lang::En),
                            words: Some(words),
                        });
                    }
                    run.count(kind).refused += table.rows.len();
                    continue;
                }
            };
            for (line, cells) in &table.rows {
                let row = Row {
                    source: &table.source,
                    line: *line,
                    cells,
                    layout: &layout,
                };
                let outcome = match kind {
                    Kind::Areas => run.area(&row),
                    Kind::Stations => run.station(&row),
                    Kind::Buildings => run.building(&row),
                    Kind::Households => run.household(&row),
                    Kind::Residents => run.resident(&row),
                    Kind::Users => run.user(&row).map(|u| {
                        users.push(u);
                        None
                    }),
                };
                match outcome {
                    Ok(Some(true)) => run.count(kind).created += 1,
                    Ok(Some(false)) => run.count(kind).updated += 1,
                    Ok(None) if kind != Kind::Users => run.count(kind).unchanged += 1,
                    Ok(None) => {}
                    Err(r) => {
                        run.count(kind).refused += 1;
                        run.report.refused.push(r);
                    }
                }
                done += 1;
                if done.is_multiple_of(1000) {
                    progress.set(done);
                }
            }
        }
        progress.set(done);
        if kind == Kind::Users {
            run.write_users(storage, users).await?;
        } else {
            run.write(storage, kind, progress).await?;
        }
    }
    Ok(run.report)
}

/// One row being read.
struct Row<'a> {
    source: &'a str,
    line: usize,
    cells: &'a [Cell],
    layout: &'a Layout,
}

impl Row<'_> {
    fn refuse(&self, column: Column, reason: impl Into<String>) -> Refusal {
        Refusal {
            source: self.source.to_string(),
            row: self.line,
            field: column.zh.to_string(),
            reason: reason.into(),
            words: None,
        }
    }

    /// A refusal whose reason carries a value: its catalogue message.
    fn refuse_words(&self, column: Column, words: Words) -> Refusal {
        Refusal {
            reason: words.render(gridwork_i18n::Lang::En),
            words: Some(words),
            ..self.refuse(column, "")
        }
    }

    /// The refusal for a domain rule's verdict, named by the column it is about.
    fn invalid(&self, column: Column, e: ValidationError) -> Refusal {
        self.refuse(column, e.problem)
    }

    /// The cell of `column`, `None` when absent or blank.
    fn get(&self, column: Column) -> Result<Option<&str>, Refusal> {
        let Some(cell) = self.layout.index(column).and_then(|i| self.cells.get(i)) else {
            return Ok(None);
        };
        if cell.rounded {
            return Err(self.refuse(
                column,
                "typed as a number, which the spreadsheet rounded: format the column as text \
                 (设置单元格格式 → 文本) and type it again",
            ));
        }
        Ok(Some(cell.text.as_str()).filter(|t| !t.is_empty()))
    }

    fn required(&self, column: Column) -> Result<&str, Refusal> {
        self.get(column)?
            .ok_or_else(|| self.refuse(column, "must not be empty"))
    }

    fn term<T: Term>(&self, column: Column) -> Result<T, Refusal> {
        let s = self.required(column)?;
        T::from_term(s).ok_or_else(|| self.refuse_words(column, Words::unknown_value::<T>()))
    }

    fn number(&self, column: Column) -> Result<Option<f64>, Refusal> {
        self.get(column)?
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| self.refuse(column, "must be a number in degrees"))
            })
            .transpose()
    }
}

/// An operation waiting to be written, with the row it came from and the record before it.
struct Pending {
    op: Op,
    source: String,
    line: usize,
    prior: Option<RecordState>,
    created: bool,
}

/// A user row read: name, role, scope ids, and the row.
struct UserRow {
    name: String,
    role: Role,
    scope: Vec<Id>,
    source: String,
    line: usize,
}

struct Run {
    dir: Directory,
    operator: Operator,
    report: Report,
    /// Each key seen in this import, by kind, with the row that had it first.
    seen: HashMap<(Kind, String), (String, usize)>,
    pending: Vec<Pending>,
}

impl Run {
    fn count(&mut self, kind: Kind) -> &mut Counts {
        self.report.counts.entry(kind).or_default()
    }

    /// Refuses a second row with the same key in this import.
    fn first_time(
        &mut self,
        kind: Kind,
        key: String,
        row: &Row,
        column: Column,
    ) -> Result<(), Refusal> {
        if let Some((source, line)) = self.seen.get(&(kind, key.clone())) {
            return Err(row.refuse_words(
                column,
                Words::new(
                    "import-why-same-record",
                    vec![
                        ("row", Arg::Text(line.to_string())),
                        ("source", Arg::Text(source.clone())),
                    ],
                ),
            ));
        }
        self.seen
            .insert((kind, key), (row.source.to_string(), row.line));
        Ok(())
    }

    /// Queues the operation bringing `record` in: a creation, a change of what differs, or
    /// nothing. `Some(true)` created, `Some(false)` updated, `None` unchanged.
    fn emit<T: Entity>(&mut self, row: &Row, record: T) -> Result<Option<bool>, Refusal> {
        let prior = self.dir.states.get(&record.id()).cloned();
        let encode = |_| {
            row.refuse(
                Column {
                    zh: "",
                    en: "",
                    required: false,
                },
                "cannot encode",
            )
        };
        let (op, created) = match &prior {
            Some(state) => match self.operator.update(state, &record).map_err(encode)? {
                Some(op) => (op, false),
                None => return Ok(None),
            },
            None => (self.operator.create(&record).map_err(encode)?, true),
        };
        let mut state = prior
            .clone()
            .unwrap_or_else(|| RecordState::new(T::KIND, record.id()));
        state.merge(&op);
        self.dir.insert(state);
        self.pending.push(Pending {
            op,
            source: row.source.to_string(),
            line: row.line,
            prior,
            created,
        });
        Ok(Some(created))
    }

    fn area(&mut self, row: &Row) -> Result<Option<bool>, Refusal> {
        let code = row.required(AREA_CODE)?.to_string();
        let name = row.required(AREA_NAME)?.to_string();
        let level: AreaLevel = row.term(AREA_LEVEL)?;
        address_code::check_area_code("area.code", level, &code)
            .map_err(|e| row.invalid(AREA_CODE, e))?;
        let parent_code = row.get(AREA_PARENT)?;
        let parent_id = match (level.parent_level(), parent_code) {
            (None, None) => None,
            (None, Some(_)) => return Err(row.refuse(AREA_PARENT, "a district has no parent area")),
            (Some(_), None) => {
                return Err(row.refuse(AREA_PARENT, "must name the code of the area above"));
            }
            (Some(parent_level), Some(pc)) => {
                let parent = self.dir.area_by_code(pc).ok_or_else(|| {
                    row.refuse(
                        AREA_PARENT,
                        "no area has this code (the area above must come first, or be stored)",
                    )
                })?;
                address_code::check_child_code(
                    "area.code",
                    parent.level,
                    &parent.code,
                    level,
                    &code,
                )
                .map_err(|e| {
                    let column = if parent.level == parent_level {
                        AREA_CODE
                    } else {
                        AREA_PARENT
                    };
                    row.invalid(column, e)
                })?;
                Some(parent.id)
            }
        };
        self.first_time(Kind::Areas, code.clone(), row, AREA_CODE)?;
        let mut area = match self.dir.area_by_code(&code) {
            Some(stored) if stored.level != level => {
                return Err(row.refuse_words(
                    AREA_LEVEL,
                    Words::new(
                        "import-why-stored-area-level",
                        vec![("level", Words::level(stored.level))],
                    ),
                ));
            }
            Some(stored) => Area {
                name,
                parent_id,
                ..stored.clone()
            },
            None => Area {
                id: uuid::Uuid::now_v7(),
                level,
                code,
                name,
                parent_id,
                response_policies: vec![],
            },
        };
        area.normalize().map_err(|e| row.invalid(AREA_NAME, e))?;
        self.emit(row, area)
    }

    fn station(&mut self, row: &Row) -> Result<Option<bool>, Refusal> {
        let name = row.required(STATION_NAME)?.to_string();
        let area = self
            .dir
            .area_by_code(row.required(STATION_AREA)?)
            .ok_or_else(|| row.refuse(STATION_AREA, "no area has this code"))?
            .id;
        let (lat, lon) = (row.number(STATION_LAT)?, row.number(STATION_LON)?);
        let position = Position::new(
            "station.position",
            lat.unwrap_or(f64::NAN),
            lon.unwrap_or(f64::NAN),
        )
        .map_err(|e| row.invalid(STATION_LAT, e))?;
        let phone = row.get(STATION_PHONE)?.map(str::to_string);
        self.first_time(Kind::Stations, name.clone(), row, STATION_NAME)?;
        let id = self
            .dir
            .station_by_name(&name)
            .map_or_else(uuid::Uuid::now_v7, |s| s.id);
        let mut station = Station {
            id,
            name,
            area_id: area,
            position,
            phone,
        };
        station
            .normalize()
            .map_err(|e| row.invalid(STATION_PHONE, e))?;
        self.emit(row, station)
    }

    fn address_code(&self, row: &Row, column: Column) -> Result<AddressCode, Refusal> {
        AddressCode::parse("building.address_code", row.required(column)?)
            .map_err(|e| row.invalid(column, e))
    }

    fn building(&mut self, row: &Row) -> Result<Option<bool>, Refusal> {
        let code = self.address_code(row, BUILDING_CODE)?;
        let address = row.required(BUILDING_ADDRESS)?.to_string();
        let kind: BuildingKind = row.term(BUILDING_KIND)?;
        let stored = self.dir.building_by_code(code.as_str()).cloned();
        let grid = match row.get(BUILDING_GRID)? {
            Some(g) => self.grid(row, BUILDING_GRID, g, AreaLevel::Grid)?,
            // A re-import does not undo a re-gridding: the building stays where it is.
            None => match &stored {
                Some(b) => b.grid_id,
                None => self
                    .grid(row, BUILDING_CODE, code.grid_code(), AreaLevel::Grid)
                    .map_err(|_| {
                        row.refuse(
                            BUILDING_GRID,
                            "no grid has the code the address code starts with: give the grid's \
                             code in this column",
                        )
                    })?,
            },
        };
        let micro_grid_id = match row.get(BUILDING_MICRO_GRID)? {
            Some(m) => {
                let id = self.grid(row, BUILDING_MICRO_GRID, m, AreaLevel::MicroGrid)?;
                if self.dir.areas.get(&id).and_then(|a| a.parent_id) != Some(grid) {
                    return Err(row.refuse(
                        BUILDING_MICRO_GRID,
                        "this micro-grid is not in the building's grid",
                    ));
                }
                Some(id)
            }
            None => stored
                .as_ref()
                .filter(|b| b.grid_id == grid)
                .and_then(|b| b.micro_grid_id),
        };
        let station_id = match row.get(BUILDING_STATION)? {
            Some(s) => Some(
                self.dir
                    .station_by_name(s)
                    .ok_or_else(|| {
                        row.refuse(BUILDING_STATION, "no micro fire station has this name")
                    })?
                    .id,
            ),
            None => stored.as_ref().and_then(|b| b.station_id),
        };
        let position = match (row.number(BUILDING_LAT)?, row.number(BUILDING_LON)?) {
            (Some(lat), Some(lon)) => Some(
                Position::new("building.position", lat, lon)
                    .map_err(|e| row.invalid(BUILDING_LAT, e))?,
            ),
            (None, None) => stored.as_ref().and_then(|b| b.position),
            (Some(_), None) => {
                return Err(
                    row.refuse(BUILDING_LON, "give both latitude and longitude, or neither")
                );
            }
            (None, Some(_)) => {
                return Err(
                    row.refuse(BUILDING_LAT, "give both latitude and longitude, or neither")
                );
            }
        };
        self.first_time(
            Kind::Buildings,
            code.as_str().to_string(),
            row,
            BUILDING_CODE,
        )?;
        let mut building = Building {
            id: stored.as_ref().map_or_else(uuid::Uuid::now_v7, |b| b.id),
            address_code: code.as_str().to_string(),
            address,
            kind,
            grid_id: grid,
            micro_grid_id,
            head_user_id: stored.as_ref().and_then(|b| b.head_user_id),
            station_id,
            position,
        };
        building
            .normalize()
            .map_err(|e| row.invalid(BUILDING_ADDRESS, e))?;
        self.emit(row, building)
    }

    /// The area of `level` with `code`.
    fn grid(&self, row: &Row, column: Column, code: &str, level: AreaLevel) -> Result<Id, Refusal> {
        match self.dir.area_by_code(code) {
            Some(a) if a.level == level => Ok(a.id),
            Some(a) => Err(row.refuse_words(
                column,
                Words::new(
                    "import-why-area-level",
                    vec![
                        ("level", Words::level(a.level)),
                        ("wanted", Words::level(level)),
                    ],
                ),
            )),
            None => Err(row.refuse_words(
                column,
                Words::new(
                    "import-why-no-area-of-level",
                    vec![("level", Words::level(level))],
                ),
            )),
        }
    }

    /// The stored (or imported) household at the address code and unit of a row.
    fn household_of(
        &self,
        row: &Row,
        code: Column,
        unit: Column,
    ) -> Result<Option<Household>, Refusal> {
        let code = self.address_code(row, code)?;
        let unit = row.required(unit)?;
        let building = self
            .dir
            .building_by_code(code.as_str())
            .ok_or_else(|| row.refuse(HOUSEHOLD_BUILDING, "no building has this address code"))?;
        Ok(self.dir.household_at(building.id, unit).cloned())
    }

    fn household(&mut self, row: &Row) -> Result<Option<bool>, Refusal> {
        let code = self.address_code(row, HOUSEHOLD_BUILDING)?;
        let building = self
            .dir
            .building_by_code(code.as_str())
            .ok_or_else(|| row.refuse(HOUSEHOLD_BUILDING, "no building has this address code"))?
            .id;
        let unit = row.required(HOUSEHOLD_UNIT)?.to_string();
        let kind: HouseholdKind = row.term(HOUSEHOLD_KIND)?;
        let phone = row.get(HOUSEHOLD_PHONE)?.map(str::to_string);
        self.first_time(
            Kind::Households,
            format!("{}/{unit}", code.as_str()),
            row,
            HOUSEHOLD_UNIT,
        )?;
        let stored = self.dir.household_at(building, &unit).cloned();
        let mut household = Household {
            id: stored.as_ref().map_or_else(uuid::Uuid::now_v7, |h| h.id),
            building_id: building,
            unit,
            kind,
            phone,
            archived: stored.is_some_and(|h| h.archived),
        };
        household.normalize().map_err(|e| {
            let column = if e.field.ends_with("phone") {
                HOUSEHOLD_PHONE
            } else {
                HOUSEHOLD_UNIT
            };
            row.invalid(column, e)
        })?;
        self.emit(row, household)
    }

    fn resident(&mut self, row: &Row) -> Result<Option<bool>, Refusal> {
        let name = row.required(RESIDENT_NAME)?.to_string();
        let id_number = row
            .get(RESIDENT_ID_NUMBER)?
            .map(|n| {
                ResidentId::parse("resident.id_number", n)
                    .map(|n| n.as_str().to_string())
                    .map_err(|e| row.invalid(RESIDENT_ID_NUMBER, e))
            })
            .transpose()?;
        let household = self
            .household_of(row, RESIDENT_BUILDING, RESIDENT_UNIT)?
            .ok_or_else(|| {
                row.refuse(
                    RESIDENT_UNIT,
                    "no household at this unit of the building (import it in 房屋 first)",
                )
            })?;
        let mut key_groups = vec![];
        if let Some(groups) = row.get(RESIDENT_KEY_GROUPS)? {
            for g in groups
                .split([';', '；', '、', ',', '，', '/', ' '])
                .filter(|g| !g.trim().is_empty())
            {
                key_groups.push(KeyGroup::from_term(g).ok_or_else(|| {
                    row.refuse_words(RESIDENT_KEY_GROUPS, Words::unknown_value::<KeyGroup>())
                })?);
            }
        }
        let phone = row.get(RESIDENT_PHONE)?.map(str::to_string);
        let (key, stored) = match &id_number {
            Some(n) => (n.clone(), self.dir.resident_by_number(n).cloned()),
            None => (
                format!("{}/{name}", household.id),
                self.dir.resident_by_name(household.id, &name).cloned(),
            ),
        };
        self.first_time(Kind::Residents, key, row, RESIDENT_ID_NUMBER)?;
        let mut resident = Resident {
            id: stored.as_ref().map_or_else(uuid::Uuid::now_v7, |r| r.id),
            household_id: household.id,
            name,
            id_number,
            phone,
            key_groups,
            last_visit_ms: stored.as_ref().and_then(|r| r.last_visit_ms),
            archived: stored.is_some_and(|r| r.archived),
        };
        resident.normalize().map_err(|e| {
            let column = if e.field.ends_with("phone") {
                RESIDENT_PHONE
            } else {
                RESIDENT_NAME
            };
            row.invalid(column, e)
        })?;
        self.emit(row, resident)
    }

    fn user(&mut self, row: &Row) -> Result<UserRow, Refusal> {
        let name = row.required(USER_NAME)?.to_string();
        let role: Role = row.term(USER_ROLE)?;
        let mut scope = vec![];
        for entry in row
            .get(USER_SCOPE)?
            .unwrap_or_default()
            .split([';', '；', '、', ',', '，', ' '])
            .filter(|e| !e.trim().is_empty())
        {
            let found = self.dir.scope_entry(entry).ok_or_else(|| {
                row.refuse(
                    USER_SCOPE,
                    "an entry names no area code, address code or station",
                )
            })?;
            scope.push(found);
        }
        check_scope(role, &scope).map_err(|e| row.refuse_words(USER_SCOPE, e))?;
        self.first_time(Kind::Users, name.clone(), row, USER_NAME)?;
        Ok(UserRow {
            name,
            role,
            scope: scope.into_iter().map(|(id, _)| id).collect(),
            source: row.source.to_string(),
            line: row.line,
        })
    }

    /// Writes the queued operations of `kind` through the push planner; a refused one is
    /// reported on its row and forgotten, so the rows that name it are refused too.
    async fn write<S: Storage>(
        &mut self,
        storage: &S,
        kind: Kind,
        progress: &mut dyn Progress,
    ) -> Result<(), StorageError> {
        let pending = std::mem::take(&mut self.pending);
        if self.report.dry_run || pending.is_empty() {
            return Ok(());
        }
        progress.stage(
            &gridwork_i18n::tr("import-stage-writing", &[("kind", kind.words())]),
            pending.len() as u64,
        );
        let ops: Vec<Op> = pending.iter().map(|p| p.op.clone()).collect();
        let results = self
            .operator
            .push(storage, ops, |done| progress.set(done as u64))
            .await?;
        for (p, result) in pending.into_iter().zip(results) {
            if let PushOutcome::Rejected { code, message } = result.outcome {
                let counts = self.count(kind);
                if p.created {
                    counts.created -= 1;
                } else {
                    counts.updated -= 1;
                }
                counts.refused += 1;
                match p.prior {
                    Some(prior) => self.dir.insert(prior),
                    None => self.dir.remove(p.op.entity_id),
                }
                // The code's words, with the server's reason where it is a rule's (ADR 0046).
                let words = Words::new(
                    "import-why-server-refused",
                    vec![(
                        "reason",
                        Arg::Refused {
                            code: code.as_str().to_string(),
                            message,
                        },
                    )],
                );
                self.report.refused.push(Refusal {
                    source: p.source,
                    row: p.line,
                    field: String::new(),
                    reason: words.render(gridwork_i18n::Lang::En),
                    words: Some(words),
                });
            }
        }
        Ok(())
    }

    async fn write_users<S: Storage>(
        &mut self,
        storage: &S,
        rows: Vec<UserRow>,
    ) -> Result<(), StorageError> {
        let stored = storage.users().await?;
        for row in rows {
            let counts = self.report.counts.entry(Kind::Users).or_default();
            match stored.iter().find(|u| u.name == row.name) {
                Some(u) if u.role != row.role => {
                    counts.refused += 1;
                    let words = Words::new(
                        "import-why-stored-user-role",
                        vec![("role", Words::role(u.role))],
                    );
                    self.report.refused.push(Refusal {
                        source: row.source,
                        row: row.line,
                        field: USER_ROLE.zh.to_string(),
                        reason: words.render(gridwork_i18n::Lang::En),
                        words: Some(words),
                    });
                }
                Some(u) if u.scope == row.scope => counts.unchanged += 1,
                Some(u) => {
                    counts.updated += 1;
                    if !self.report.dry_run {
                        storage.set_user_scope(u.id, row.scope).await?;
                    }
                }
                None => {
                    counts.created += 1;
                    if !self.report.dry_run {
                        storage.create_user(row.name, row.role, row.scope).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a user of `role` may have these scope entries: a building head's are buildings, a
/// fire crew's stations, everyone else's areas.
pub fn check_scope(role: Role, scope: &[(Id, EntityKind)]) -> Result<(), Words> {
    let (wanted, what) = match role {
        Role::BuildingHead => (EntityKind::Building, "import-scope-buildings"),
        Role::FireCrew => (EntityKind::Station, "import-scope-stations"),
        _ => (EntityKind::Area, "import-scope-areas"),
    };
    if scope.iter().any(|(_, kind)| *kind != wanted) {
        return Err(Words::new(
            "import-why-scope-kind",
            vec![("role", Words::role(role)), ("what", Arg::Key(what.into()))],
        ));
    }
    Ok(())
}

impl Words {
    /// Every catalogue key the importer's [`Words`] use (for the test that both languages
    /// have them).
    pub const KEYS: [&'static str; 12] = [
        "import-why-unknown-value",
        "import-why-server-refused",
        "import-why-same-record",
        "import-why-no-column",
        "import-why-stored-area-level",
        "import-why-area-level",
        "import-why-no-area-of-level",
        "import-why-stored-user-role",
        "import-why-scope-kind",
        "import-scope-buildings",
        "import-scope-stations",
        "import-scope-areas",
    ];

    fn level(level: AreaLevel) -> Arg {
        Arg::Key(format!("area-{}", level.as_str()))
    }

    fn role(role: Role) -> Arg {
        Arg::Key(format!("deny-role-{}", role.as_str().replace('_', "-")))
    }
}
