//! The kinds of file an import reads and their columns, in the words a Chinese office uses
//! (English names are accepted too). `docs/import.md` shows each template; the files in
//! `docs/import-templates/` are them, empty.

/// A kind of file, in the order an import reads them (what a row names must come first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Areas,
    Stations,
    Buildings,
    Households,
    Residents,
    Users,
}

/// One column of a kind's template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header an office writes.
    pub zh: &'static str,
    /// The English header, also accepted.
    pub en: &'static str,
    pub required: bool,
}

const fn col(zh: &'static str, en: &'static str, required: bool) -> Column {
    Column { zh, en, required }
}

pub const AREA_CODE: Column = col("区域编码", "code", true);
pub const AREA_NAME: Column = col("区域名称", "name", true);
pub const AREA_LEVEL: Column = col("层级", "level", true);
pub const AREA_PARENT: Column = col("上级编码", "parent_code", false);

pub const STATION_NAME: Column = col("消防站名称", "name", true);
pub const STATION_AREA: Column = col("所属区域编码", "area_code", true);
pub const STATION_LAT: Column = col("纬度", "lat", true);
pub const STATION_LON: Column = col("经度", "lon", true);
pub const STATION_PHONE: Column = col("电话", "phone", false);

pub const BUILDING_CODE: Column = col("地址编码", "address_code", true);
pub const BUILDING_ADDRESS: Column = col("地址", "address", true);
pub const BUILDING_KIND: Column = col("类型", "kind", true);
pub const BUILDING_GRID: Column = col("网格编码", "grid_code", false);
pub const BUILDING_MICRO_GRID: Column = col("微网格编码", "micro_grid_code", false);
pub const BUILDING_STATION: Column = col("消防站", "station", false);
pub const BUILDING_LAT: Column = col("纬度", "lat", false);
pub const BUILDING_LON: Column = col("经度", "lon", false);

pub const HOUSEHOLD_BUILDING: Column = col("地址编码", "address_code", true);
pub const HOUSEHOLD_UNIT: Column = col("房号", "unit", true);
pub const HOUSEHOLD_KIND: Column = col("类型", "kind", true);
pub const HOUSEHOLD_PHONE: Column = col("电话", "phone", false);

pub const RESIDENT_NAME: Column = col("姓名", "name", true);
pub const RESIDENT_ID_NUMBER: Column = col("身份证号", "id_number", false);
pub const RESIDENT_PHONE: Column = col("电话", "phone", false);
pub const RESIDENT_BUILDING: Column = col("地址编码", "address_code", true);
pub const RESIDENT_UNIT: Column = col("房号", "unit", true);
pub const RESIDENT_KEY_GROUPS: Column = col("重点人群", "key_groups", false);

pub const USER_NAME: Column = col("姓名", "name", true);
pub const USER_ROLE: Column = col("角色", "role", true);
pub const USER_SCOPE: Column = col("范围", "scope", false);

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Areas,
        Kind::Stations,
        Kind::Buildings,
        Kind::Households,
        Kind::Residents,
        Kind::Users,
    ];

    /// The file or sheet name of this kind, in Chinese.
    /// The kind's name in the output language ([`gridwork_i18n::current`]).
    pub fn words(self) -> &'static str {
        match gridwork_i18n::current() {
            gridwork_i18n::Lang::Zh => self.zh(),
            gridwork_i18n::Lang::En => self.en(),
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Kind::Areas => "区域",
            Kind::Stations => "消防站",
            Kind::Buildings => "楼栋",
            Kind::Households => "房屋",
            Kind::Residents => "居民",
            Kind::Users => "用户",
        }
    }

    /// The file or sheet name of this kind, in English.
    pub fn en(self) -> &'static str {
        match self {
            Kind::Areas => "areas",
            Kind::Stations => "stations",
            Kind::Buildings => "buildings",
            Kind::Households => "households",
            Kind::Residents => "residents",
            Kind::Users => "users",
        }
    }

    /// The kind a file or sheet named `name` holds (`楼栋`, `buildings`, `01-楼栋`).
    pub fn named(name: &str) -> Option<Kind> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_');
        Kind::ALL
            .into_iter()
            .find(|k| name == k.zh() || name == k.en())
    }

    /// Every kind's names, for a message.
    pub fn names() -> String {
        Kind::ALL
            .iter()
            .map(|k| format!("{} ({})", k.zh(), k.en()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The template's columns, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Areas => &[AREA_CODE, AREA_NAME, AREA_LEVEL, AREA_PARENT],
            Kind::Stations => &[
                STATION_NAME,
                STATION_AREA,
                STATION_LAT,
                STATION_LON,
                STATION_PHONE,
            ],
            Kind::Buildings => &[
                BUILDING_CODE,
                BUILDING_ADDRESS,
                BUILDING_KIND,
                BUILDING_GRID,
                BUILDING_MICRO_GRID,
                BUILDING_STATION,
                BUILDING_LAT,
                BUILDING_LON,
            ],
            Kind::Households => &[
                HOUSEHOLD_BUILDING,
                HOUSEHOLD_UNIT,
                HOUSEHOLD_KIND,
                HOUSEHOLD_PHONE,
            ],
            Kind::Residents => &[
                RESIDENT_NAME,
                RESIDENT_ID_NUMBER,
                RESIDENT_PHONE,
                RESIDENT_BUILDING,
                RESIDENT_UNIT,
                RESIDENT_KEY_GROUPS,
            ],
            Kind::Users => &[USER_NAME, USER_ROLE, USER_SCOPE],
        }
    }

    /// The header line of this kind's CSV template.
    pub fn template(self) -> String {
        self.columns()
            .iter()
            .map(|c| c.zh)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Which cell of a row holds each column: found by header, Chinese or English.
#[derive(Debug, Clone)]
pub struct Layout {
    at: Vec<(Column, Option<usize>)>,
}

impl Layout {
    /// The layout of `headers` for `kind`, or the required columns missing.
    pub fn of(kind: Kind, headers: &[String]) -> Result<Layout, Vec<Column>> {
        let find = |c: &Column| {
            headers.iter().position(|h| {
                let h = h.trim();
                h == c.zh || h.eq_ignore_ascii_case(c.en)
            })
        };
        let at: Vec<(Column, Option<usize>)> =
            kind.columns().iter().map(|c| (*c, find(c))).collect();
        let missing: Vec<Column> = at
            .iter()
            .filter(|(c, i)| c.required && i.is_none())
            .map(|(c, _)| *c)
            .collect();
        if missing.is_empty() {
            Ok(Layout { at })
        } else {
            Err(missing)
        }
    }

    /// The cell index of `column`, if the file has it.
    pub fn index(&self, column: Column) -> Option<usize> {
        self.at
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, i)| *i)
    }
}
