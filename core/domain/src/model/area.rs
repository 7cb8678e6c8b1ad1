//! Areas: the nested administrative and grid hierarchy, district down to micro-grid.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::workflow::ResponsePolicy;

/// A level of the area hierarchy, from the widest to the narrowest.
///
/// 区 → 街道/镇 → 网层 → 社区/村 → 网格 → 微网格.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    /// 区
    District,
    /// 街道 / 镇
    Subdistrict,
    /// 网层: a grouping of 2–3 communities inside a subdistrict.
    GridLayer,
    /// 社区 / 村
    Community,
    /// 网格: one gridworker's patch, ~400–600 households.
    Grid,
    /// 微网格
    MicroGrid,
}

impl AreaLevel {
    /// All levels, widest first.
    pub const ALL: [AreaLevel; 6] = [
        AreaLevel::District,
        AreaLevel::Subdistrict,
        AreaLevel::GridLayer,
        AreaLevel::Community,
        AreaLevel::Grid,
        AreaLevel::MicroGrid,
    ];

    /// The level a parent of this level must have (`None` for a district, the root).
    pub fn parent_level(self) -> Option<AreaLevel> {
        match self {
            AreaLevel::District => None,
            AreaLevel::Subdistrict => Some(AreaLevel::District),
            AreaLevel::GridLayer => Some(AreaLevel::Subdistrict),
            AreaLevel::Community => Some(AreaLevel::GridLayer),
            AreaLevel::Grid => Some(AreaLevel::Community),
            AreaLevel::MicroGrid => Some(AreaLevel::Grid),
        }
    }

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::District => "district",
            AreaLevel::Subdistrict => "subdistrict",
            AreaLevel::GridLayer => "grid_layer",
            AreaLevel::Community => "community",
            AreaLevel::Grid => "grid",
            AreaLevel::MicroGrid => "micro_grid",
        }
    }

    /// Parses [`AreaLevel::as_str`].
    pub fn parse(s: &str) -> Option<AreaLevel> {
        AreaLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// An area of any level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub id: Id,
    pub level: AreaLevel,
    /// The area's code; see [`crate::validate::address_code`].
    pub code: String,
    pub name: String,
    /// `None` only for a district.
    pub parent_id: Option<Id>,
    /// A subdistrict's response policies (1-3-10, Wulin 1/5/30, custom minutes), each with the
    /// moment it took effect: set by an admin, applied by every phone below to the events
    /// opened while it is in force ([`crate::workflow::response_policy`]). Empty: 1-3-10.
    /// Only a subdistrict carries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_policies: Vec<ResponsePolicy>,
}
