//! Buildings, the join key of all data: each carries its unified address code (统一地址编码).

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::validate::Position;

/// What a building is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildingKind {
    Residential,
    /// Mostly rented rooms.
    Rental,
    /// 三合一: living, storage and business under one roof, a classic fire risk.
    MixedUse,
    Factory,
    Shop,
    Public,
}

impl BuildingKind {
    pub const ALL: [BuildingKind; 6] = [
        BuildingKind::Residential,
        BuildingKind::Rental,
        BuildingKind::MixedUse,
        BuildingKind::Factory,
        BuildingKind::Shop,
        BuildingKind::Public,
    ];

    /// The stable name used in storage and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildingKind::Residential => "residential",
            BuildingKind::Rental => "rental",
            BuildingKind::MixedUse => "mixed_use",
            BuildingKind::Factory => "factory",
            BuildingKind::Shop => "shop",
            BuildingKind::Public => "public",
        }
    }

    /// Parses [`BuildingKind::as_str`].
    pub fn parse(s: &str) -> Option<BuildingKind> {
        BuildingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A building.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub id: Id,
    /// 19-digit unified address code; see [`crate::validate::address_code`].
    pub address_code: String,
    /// Street address as people say it, e.g. "梅花碑社区 3 幢".
    pub address: String,
    pub kind: BuildingKind,
    /// The grid the building is in (it moves when grids are redrawn).
    pub grid_id: Id,
    pub micro_grid_id: Option<Id>,
    /// The building head (楼长): a resident or user id.
    pub head_user_id: Option<Id>,
    /// The assigned micro fire station.
    pub station_id: Option<Id>,
    pub position: Option<Position>,
}

/// A micro fire station (微型消防站).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Station {
    pub id: Id,
    pub name: String,
    /// The area (usually a community or subdistrict) the station serves.
    pub area_id: Id,
    pub position: Position,
    /// The station's duty phone.
    pub phone: Option<String>,
}
