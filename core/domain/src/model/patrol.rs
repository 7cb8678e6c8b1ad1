//! Patrols (巡查) and the building visits made on them.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::validate::Position;

/// One patrol by a gridworker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patrol {
    pub id: Id,
    /// The user on patrol.
    pub user_id: Id,
    /// The grid patrolled.
    pub area_id: Id,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
    /// The link of the last visit's chain, sealed when the patrol ends
    /// ([`crate::workflow::patrol_chain`]); `None` while under way, and for patrols made
    /// before visits were chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_head: Option<String>,
}

/// A check-in at a building during a patrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolVisit {
    pub id: Id,
    pub patrol_id: Id,
    pub building_id: Id,
    pub at_ms: u64,
    pub position: Option<Position>,
    pub note: Option<String>,
    /// This visit's link in its patrol's chain: the hash of the link before it and of this
    /// visit's building, time and position ([`crate::workflow::patrol_chain`]). `None` for
    /// visits made before visits were chained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}
