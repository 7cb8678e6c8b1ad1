//! Area codes and the unified building address code (统一地址编码): the join key between the
//! systems that share a building's records, so a malformed or mis-parented code is refused here.
//!
//! # The rule
//!
//! Codes are digit strings, and each level's code extends its parent's:
//!
//! | level                | length | made of                                     | example              |
//! |----------------------|--------|---------------------------------------------|----------------------|
//! | district 区          | 6      | GB/T 2260 county-level code                 | `330106`             |
//! | subdistrict 街道/镇  | 9      | district + 3                                | `330106001`          |
//! | community 社区/村    | 12     | subdistrict + 3 (national statistical code) | `330106001002`       |
//! | grid 网格            | 15     | community + 3                               | `330106001002003`    |
//! | micro-grid 微网格    | 18     | grid + 3                                    | `330106001002003004` |
//! | building (address)   | 19     | grid + 4-digit building serial              | `3301060010020030042`|
//!
//! A grid layer 网层 groups communities inside a subdistrict but is not part of the address chain
//! (communities are regrouped without recoding them): its code is the subdistrict code, `L` and
//! two digits, e.g. `330106001L03`. A community under a layer extends the layer's subdistrict part
//! (its first 9 digits).
//!
//! No part after the district may be all zeros (`000`, `L00`, building `0000`): in the statistical
//! codes a zero part stands for the parent itself, so such a code is a padded parent, not a child.
//!
//! A building's address code records the grid it was coded in. Grids get redrawn; the code does
//! not change when they are, so the building's current grid is a field of its own, and
//! [`AddressCode::is_in_grid`] only says where it was coded.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;
use crate::model::area::AreaLevel;

/// Length of a building's unified address code: a grid code and a 4-digit serial.
pub const ADDRESS_CODE_LEN: usize = 19;

/// Length of a district code, which every other code starts with.
const DISTRICT_LEN: usize = 6;

/// Length of the subdistrict part that a grid layer code starts with.
const SUBDISTRICT_LEN: usize = 9;

/// Length of a grid code, which a building's address code starts with.
const GRID_LEN: usize = 15;

/// The field name used when a code arrives through serde rather than a form.
const SERDE_FIELD: &str = "address_code";

/// The length of a code at `level`: 6, 9, 12 (grid layer: 12 with its `L`), 12, 15, 18.
pub fn code_len(level: AreaLevel) -> usize {
    match level {
        AreaLevel::District => 6,
        AreaLevel::Subdistrict => 9,
        AreaLevel::GridLayer => 12,
        AreaLevel::Community => 12,
        AreaLevel::Grid => 15,
        AreaLevel::MicroGrid => 18,
    }
}

/// The level's name as messages say it.
fn level_name(level: AreaLevel) -> &'static str {
    match level {
        AreaLevel::District => "district",
        AreaLevel::Subdistrict => "subdistrict",
        AreaLevel::GridLayer => "grid layer",
        AreaLevel::Community => "community",
        AreaLevel::Grid => "grid",
        AreaLevel::MicroGrid => "micro-grid",
    }
}

/// The 3-digit parts after the district, by the level each one names.
const CHAIN_PARTS: [(usize, AreaLevel); 4] = [
    (6, AreaLevel::Subdistrict),
    (9, AreaLevel::Community),
    (12, AreaLevel::Grid),
    (15, AreaLevel::MicroGrid),
];

/// The problem with `code` as a code of `level`, if any.
fn area_code_problem(level: AreaLevel, code: &str) -> Option<String> {
    let name = level_name(level);
    if level == AreaLevel::GridLayer {
        // Bytes, not chars: a multi-byte character fails the shape instead of splitting badly.
        let b = code.as_bytes();
        let shape_ok = b.len() == code_len(level)
            && b[..SUBDISTRICT_LEN].iter().all(u8::is_ascii_digit)
            && b[SUBDISTRICT_LEN] == b'L'
            && b[SUBDISTRICT_LEN + 1..].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Some(
                "grid layer code must be a 9-digit subdistrict code, L and 2 digits".into(),
            );
        }
        if let Some(problem) = area_code_problem(AreaLevel::Subdistrict, &code[..SUBDISTRICT_LEN]) {
            return Some(problem);
        }
        if &code[SUBDISTRICT_LEN + 1..] == "00" {
            return Some("grid layer number cannot be 00".into());
        }
        return None;
    }
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("{name} code must contain only digits"));
    }
    let len = code_len(level);
    if code.len() != len {
        return Some(format!("{name} code must have {len} digits"));
    }
    if code.starts_with('0') {
        return Some("district part of the code cannot start with 0".into());
    }
    CHAIN_PARTS
        .iter()
        .filter(|(start, _)| start + 3 <= len)
        .find(|(start, _)| &code[*start..start + 3] == "000")
        .map(|(_, part)| format!("{} part of the code cannot be 000", level_name(*part)))
}

/// Checks that `code` is well formed for an area of `level` (see the module doc for the rule).
///
/// ```
/// use gridwork_domain::model::area::AreaLevel;
/// use gridwork_domain::validate::address_code::check_area_code;
/// assert!(check_area_code("area.code", AreaLevel::Grid, "330106001002003").is_ok());
/// assert!(check_area_code("area.code", AreaLevel::GridLayer, "330106001L03").is_ok());
/// assert!(check_area_code("area.code", AreaLevel::Grid, "33010600100200").is_err());
/// ```
pub fn check_area_code(field: &str, level: AreaLevel, code: &str) -> Result<(), ValidationError> {
    match area_code_problem(level, code) {
        Some(problem) => Err(ValidationError::new(field, problem)),
        None => Ok(()),
    }
}

/// Checks that an area of `child_level` may sit directly under one of `parent_level` (as
/// [`AreaLevel::parent_level`] says), that both codes are well formed, and that the child's code
/// extends the parent's. Under a grid layer, the community extends the layer's subdistrict part.
///
/// ```
/// use gridwork_domain::model::area::AreaLevel;
/// use gridwork_domain::validate::address_code::check_child_code;
/// let layer = "330106001L03";
/// assert!(check_child_code("area.code", AreaLevel::GridLayer, layer, AreaLevel::Community,
///     "330106001002").is_ok());
/// assert!(check_child_code("area.code", AreaLevel::GridLayer, layer, AreaLevel::Community,
///     "330106002002").is_err());
/// ```
pub fn check_child_code(
    field: &str,
    parent_level: AreaLevel,
    parent_code: &str,
    child_level: AreaLevel,
    child_code: &str,
) -> Result<(), ValidationError> {
    let (parent, child) = (level_name(parent_level), level_name(child_level));
    if child_level.parent_level() != Some(parent_level) {
        return Err(ValidationError::new(
            field,
            format!("a {child} cannot sit directly under a {parent}"),
        ));
    }
    if let Some(problem) = area_code_problem(parent_level, parent_code) {
        return Err(ValidationError::new(
            field,
            format!("parent's code is invalid: {problem}"),
        ));
    }
    check_area_code(field, child_level, child_code)?;
    let chain_prefix = match parent_level {
        AreaLevel::GridLayer => &parent_code[..SUBDISTRICT_LEN],
        _ => parent_code,
    };
    if !child_code.starts_with(chain_prefix) {
        let whose = match parent_level {
            AreaLevel::GridLayer => "its grid layer's subdistrict",
            _ => "its parent's",
        };
        return Err(ValidationError::new(
            field,
            format!("{child} code does not extend {whose} code"),
        ));
    }
    Ok(())
}

/// A building's unified address code (统一地址编码): its grid's 15-digit code and a 4-digit
/// building serial.
///
/// ```
/// use gridwork_domain::validate::AddressCode;
/// let code = AddressCode::parse("building.address_code", "3301060010020030042").unwrap();
/// assert_eq!(code.grid_code(), "330106001002003");
/// assert_eq!(code.building_serial(), "0042");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressCode(String);

impl AddressCode {
    /// Checks `s` (surrounding whitespace ignored) as a unified address code.
    pub fn parse(field: &str, s: &str) -> Result<AddressCode, ValidationError> {
        let s = s.trim();
        let refuse = |problem: String| ValidationError::new(field, problem);
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("address code must contain only digits".into()));
        }
        if s.len() != ADDRESS_CODE_LEN {
            return Err(refuse(format!(
                "address code must have {ADDRESS_CODE_LEN} digits"
            )));
        }
        if let Some(problem) = area_code_problem(AreaLevel::Grid, &s[..GRID_LEN]) {
            return Err(refuse(problem));
        }
        if &s[GRID_LEN..] == "0000" {
            return Err(refuse(
                "building serial of the address code cannot be 0000".into(),
            ));
        }
        Ok(AddressCode(s.to_owned()))
    }

    /// The whole 19-digit code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit district code.
    pub fn district_code(&self) -> &str {
        &self.0[..DISTRICT_LEN]
    }

    /// The 9-digit subdistrict code.
    pub fn subdistrict_code(&self) -> &str {
        &self.0[..SUBDISTRICT_LEN]
    }

    /// The 12-digit community code.
    pub fn community_code(&self) -> &str {
        &self.0[..code_len(AreaLevel::Community)]
    }

    /// The 15-digit code of the grid the building was coded in.
    pub fn grid_code(&self) -> &str {
        &self.0[..GRID_LEN]
    }

    /// The 4-digit building serial within the grid, zero-padded as written.
    pub fn building_serial(&self) -> &str {
        &self.0[GRID_LEN..]
    }

    /// Whether the building was coded in the grid `grid_code` (see the module doc: after a
    /// redraw, a building's current grid may differ).
    pub fn is_in_grid(&self, grid_code: &str) -> bool {
        self.grid_code() == grid_code
    }
}

impl fmt::Display for AddressCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AddressCode {
    type Error = ValidationError;

    fn try_from(s: String) -> Result<AddressCode, ValidationError> {
        AddressCode::parse(SERDE_FIELD, &s)
    }
}

impl From<AddressCode> for String {
    fn from(code: AddressCode) -> String {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AreaLevel::*;

    const FIELD: &str = "area.code";

    /// Xihu district, Hangzhou, down one branch of the tree.
    const XIHU: &str = "330106";
    const BEISHAN: &str = "330106001";
    const LAYER: &str = "330106001L03";
    const COMMUNITY: &str = "330106001002";
    const GRID: &str = "330106001002003";
    const MICRO_GRID: &str = "330106001002003004";

    fn problem(level: AreaLevel, code: &str) -> String {
        let err = check_area_code(FIELD, level, code).expect_err(code);
        assert_eq!(err.field, FIELD);
        err.problem
    }

    #[test]
    fn code_lengths_grow_by_three_down_the_chain() {
        assert_eq!(code_len(District), 6);
        assert_eq!(code_len(Subdistrict), 9);
        assert_eq!(code_len(GridLayer), 12);
        assert_eq!(code_len(Community), 12);
        assert_eq!(code_len(Grid), 15);
        assert_eq!(code_len(MicroGrid), 18);
    }

    #[test]
    fn a_code_of_each_level_is_accepted() {
        for (level, code) in [
            (District, XIHU),
            (Subdistrict, BEISHAN),
            (GridLayer, LAYER),
            (Community, COMMUNITY),
            (Grid, GRID),
            (MicroGrid, MICRO_GRID),
        ] {
            assert!(
                check_area_code(FIELD, level, code).is_ok(),
                "{level:?} {code}"
            );
            assert_eq!(code.len(), code_len(level));
        }
    }

    #[test]
    fn malformed_area_codes_are_refused() {
        assert_eq!(
            problem(Grid, "33010600100200"),
            "grid code must have 15 digits"
        );
        assert_eq!(
            problem(Community, "3301060010020"),
            "community code must have 12 digits"
        );
        assert_eq!(
            problem(Subdistrict, "33010600a"),
            "subdistrict code must contain only digits"
        );
        assert_eq!(
            problem(District, "030106"),
            "district part of the code cannot start with 0"
        );
        assert_eq!(
            problem(Community, "330106000002"),
            "subdistrict part of the code cannot be 000"
        );
        assert_eq!(
            problem(Grid, "330106001002000"),
            "grid part of the code cannot be 000"
        );
        // A grid layer code is not a community code, though both have 12 characters.
        assert!(problem(Community, LAYER).contains("only digits"));
        assert!(problem(GridLayer, COMMUNITY).contains("L and 2 digits"));
        assert!(problem(GridLayer, "330106001l03").contains("L and 2 digits"));
        assert!(problem(GridLayer, "330106001L3").contains("L and 2 digits"));
        assert_eq!(
            problem(GridLayer, "330106001L00"),
            "grid layer number cannot be 00"
        );
        assert!(problem(GridLayer, "330106000L03").contains("000"));
        // Multi-byte input must be refused, not panic on a byte boundary.
        assert!(problem(GridLayer, "33010600一L03").contains("L and 2 digits"));
        assert!(problem(Grid, "３３０１０６００１００２００３").contains("only digits"));
    }

    #[test]
    fn each_level_extends_its_parent() {
        let chain = [
            (District, XIHU, Subdistrict, BEISHAN),
            (Subdistrict, BEISHAN, GridLayer, LAYER),
            (GridLayer, LAYER, Community, COMMUNITY),
            (Community, COMMUNITY, Grid, GRID),
            (Grid, GRID, MicroGrid, MICRO_GRID),
        ];
        for (parent_level, parent, child_level, child) in chain {
            check_child_code(FIELD, parent_level, parent, child_level, child)
                .unwrap_or_else(|e| panic!("{child} under {parent}: {e}"));
        }
    }

    #[test]
    fn a_grid_copied_from_the_next_community_is_refused() {
        let err =
            check_child_code(FIELD, Community, COMMUNITY, Grid, "330106001005003").unwrap_err();
        assert_eq!(err.field, FIELD);
        assert_eq!(err.problem, "grid code does not extend its parent's code");
        assert!(!err.problem.contains("330106"), "codes are not echoed");
    }

    #[test]
    fn a_community_under_a_layer_must_be_in_the_layers_subdistrict() {
        // Layer 03 of Beishan; the community belongs to the next subdistrict.
        let err = check_child_code(FIELD, GridLayer, LAYER, Community, "330106002002").unwrap_err();
        assert_eq!(
            err.problem,
            "community code does not extend its grid layer's subdistrict code"
        );
        // A layer of another subdistrict is refused under Beishan.
        assert!(check_child_code(FIELD, Subdistrict, BEISHAN, GridLayer, "330106002L03").is_err());
    }

    #[test]
    fn levels_must_nest_in_order() {
        let err = check_child_code(FIELD, District, XIHU, Grid, GRID).unwrap_err();
        assert_eq!(err.problem, "a grid cannot sit directly under a district");
        assert!(check_child_code(FIELD, Grid, GRID, Community, COMMUNITY).is_err());
    }

    #[test]
    fn a_bad_parent_or_child_code_is_reported_as_such() {
        let err = check_child_code(FIELD, Community, "33010600100", Grid, GRID).unwrap_err();
        assert!(
            err.problem
                .starts_with("parent's code is invalid: community code")
        );
        let err =
            check_child_code(FIELD, Community, COMMUNITY, Grid, "3301060010020031").unwrap_err();
        assert_eq!(err.problem, "grid code must have 15 digits");
    }

    #[test]
    fn a_building_address_code_splits_into_its_chain() {
        let code = AddressCode::parse("building.address_code", " 3301060010020030042 ").unwrap();
        assert_eq!(code.as_str(), "3301060010020030042");
        assert_eq!(code.district_code(), XIHU);
        assert_eq!(code.subdistrict_code(), BEISHAN);
        assert_eq!(code.community_code(), COMMUNITY);
        assert_eq!(code.grid_code(), GRID);
        assert_eq!(code.building_serial(), "0042");
        assert!(code.is_in_grid(GRID));
        assert!(!code.is_in_grid("330106001002004"));
        assert!(
            !code.is_in_grid(COMMUNITY),
            "a community code is not a grid code"
        );
        assert_eq!(code.to_string(), "3301060010020030042");
    }

    #[test]
    fn malformed_address_codes_are_refused() {
        let refuse = |s: &str| {
            AddressCode::parse("building.address_code", s)
                .unwrap_err()
                .problem
        };
        assert_eq!(
            refuse("330106001002003004"),
            "address code must have 19 digits"
        );
        assert_eq!(
            refuse("33010600100200300421"),
            "address code must have 19 digits"
        );
        assert_eq!(
            refuse("330106001002003004X"),
            "address code must contain only digits"
        );
        assert_eq!(
            refuse("3301060010020000042"),
            "grid part of the code cannot be 000"
        );
        assert_eq!(
            refuse("3301060010020030000"),
            "building serial of the address code cannot be 0000"
        );
        assert_eq!(
            refuse("0301060010020030042"),
            "district part of the code cannot start with 0"
        );
    }

    #[test]
    fn serde_carries_the_plain_code_and_validates_on_the_way_in() {
        let code = AddressCode::parse(FIELD, "3301060010020030042").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"3301060010020030042\"");
        assert_eq!(serde_json::from_str::<AddressCode>(&json).unwrap(), code);
        let err = serde_json::from_str::<AddressCode>("\"3301060010020030000\"").unwrap_err();
        assert!(err.to_string().contains("0000"));
    }
}
