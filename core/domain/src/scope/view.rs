//! [`ScopeView`]: a user as the scope rules see them.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::sync::Role;
use crate::workflow::DefenceLevel;

/// A user's role and scope, with the area path each scope entry hangs from.
///
/// `scope` holds areas (a gridworker's grids, a dispatcher's subdistrict, a mediator's area, an
/// admin's areas), buildings (a building head) or stations (a crew). `anchors` holds, for each
/// entry, the area path down to it (to its grid for a building, to its area for a station):
/// the areas on those paths, and the stations serving them, are visible to the user read-only,
/// so a phone can name its community and dispatch to a nearby station.
///
/// An empty scope gives nothing, except to an admin, for whom it means the whole installation
/// (the operator who loads the city).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeView {
    pub role: Role,
    pub scope: Vec<Id>,
    pub anchors: Vec<Vec<Id>>,
}

impl ScopeView {
    /// A view from a role and scope, with the anchor paths resolved by the caller.
    pub fn new(role: Role, scope: Vec<Id>, anchors: Vec<Vec<Id>>) -> ScopeView {
        ScopeView {
            role,
            scope,
            anchors,
        }
    }

    /// An admin with an empty scope: the whole installation.
    pub fn is_everything(&self) -> bool {
        self.role == Role::Admin && self.scope.is_empty()
    }

    /// Whether `id` is one of the scope's entries.
    pub fn holds(&self, id: Id) -> bool {
        self.scope.contains(&id)
    }

    /// Whether `areas` (a record's path) passes through one of the scope's entries.
    pub fn covers_path(&self, areas: &[Id]) -> bool {
        self.is_everything() || areas.iter().any(|a| self.holds(*a))
    }

    /// Whether `areas` lies on one of the anchor paths (an area above or at the scope).
    pub fn is_above(&self, areas: &[Id]) -> bool {
        !areas.is_empty()
            && self
                .anchors
                .iter()
                .any(|anchor| anchor.len() >= areas.len() && anchor[..areas.len()] == *areas)
    }

    /// A short digest of a role, a scope and its anchors, sent with every pull answer: when it
    /// changes, the device knows what its user sees changed (an administrator changed the
    /// scope, or a scope entry moved) and takes a new snapshot. The order of the scope entries
    /// does not matter. (FNV-1a over the canonical text; it detects change, it protects
    /// nothing.)
    ///
    /// ```
    /// use gridwork_domain::scope::ScopeView;
    /// use gridwork_domain::sync::Role;
    /// use uuid::Uuid;
    ///
    /// let (a, b, grid) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    /// let one = ScopeView::digest(Role::Gridworker, &[a, b], &[]);
    /// assert_eq!(one, ScopeView::digest(Role::Gridworker, &[b, a], &[]));
    /// assert_ne!(one, ScopeView::digest(Role::Gridworker, &[a], &[]));
    /// assert_ne!(one, ScopeView::digest(Role::Dispatcher, &[a, b], &[]));
    /// assert_ne!(one, ScopeView::digest(Role::Gridworker, &[a, b], &[vec![grid]]));
    /// ```
    pub fn digest(role: Role, scope: &[Id], anchors: &[Vec<Id>]) -> String {
        let mut ids: Vec<&Id> = scope.iter().collect();
        ids.sort();
        ids.dedup();
        let mut paths: Vec<&Vec<Id>> = anchors.iter().collect();
        paths.sort();
        paths.dedup();
        let mut text = format!("{role:?}");
        for id in ids {
            text.push(':');
            text.push_str(&id.to_string());
        }
        for path in paths {
            text.push('|');
            for id in path {
                text.push('/');
                text.push_str(&id.to_string());
            }
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    /// The line of defence a mediator scoped to an area at depth `path_len` works at: a
    /// subdistrict's mediation centre, a community's secretary, a grid's gridworker, a
    /// micro-grid's leader.
    pub fn mediator_level(path_len: usize) -> DefenceLevel {
        match path_len {
            0..=2 => DefenceLevel::SubdistrictMediationCentre,
            3 | 4 => DefenceLevel::VillageSecretary,
            5 => DefenceLevel::Gridworker,
            _ => DefenceLevel::MicroGridLeader,
        }
    }
}
