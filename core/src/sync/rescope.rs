//! A user's scope changed (an administrator gave them other grids, a building head another
//! building, or an entry of their scope moved): what the device fetches and what it purges, so
//! that it downloads only what the new scope adds rather than the whole scope again.
//!
//! The rules are the server's (`gridwork_domain::scope`): visibility is a union over the scope's
//! entries, so the records a new entry brings are exactly what a snapshot restricted to that
//! entry holds (`GET /v1/snapshot?scope=ID`), and the records to purge are those the old view
//! saw and the new one does not, judged on the device's own copies.

use std::collections::HashSet;

use gridwork_domain::ids::Id;
use gridwork_domain::scope::{ScopeView, visible};
use rusqlite::Connection;

use crate::error::Result;
use crate::permissions;
use crate::store::records;

/// What to fetch first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The whole new scope, and purge whatever it does not hold: the role changed (every rule
    /// differs), the store never knew its scope, or an admin now sees the whole installation.
    Whole,
    /// What these entries (new to the scope) give; possibly none. Then the entries kept, if one
    /// of them moved ([`kept_entries_moved`]); then purge by the rule.
    Gained(Vec<Id>),
}

/// The plan for going from `old` (the view stored on the device, if any) to `new`.
pub(crate) fn plan(old: Option<&ScopeView>, new: &ScopeView) -> Plan {
    let Some(old) = old else {
        return Plan::Whole;
    };
    if old.role != new.role || (new.is_everything() && !old.is_everything()) {
        return Plan::Whole;
    }
    if old.is_everything() {
        // From the whole installation to part of it: nothing is new.
        return Plan::Gained(vec![]);
    }
    Plan::Gained(
        new.scope
            .iter()
            .filter(|id| !old.holds(**id))
            .copied()
            .collect(),
    )
}

/// The entries both views hold.
pub(crate) fn kept(old: &ScopeView, new: &ScopeView) -> Vec<Id> {
    new.scope
        .iter()
        .filter(|id| old.holds(**id))
        .copied()
        .collect()
}

/// Whether an entry kept from the old scope hangs from another area path now (a building
/// head's building moved to another grid): the new view has an anchor path that neither the old
/// view nor the entries just gained (`gained_anchors`, found on the device's copies) explain.
/// Then the areas above it are new to the device, and the entries kept are fetched again.
pub(crate) fn kept_entries_moved(
    old: &ScopeView,
    new: &ScopeView,
    gained_anchors: &[Vec<Id>],
) -> bool {
    new.anchors
        .iter()
        .any(|a| !old.anchors.contains(a) && !gained_anchors.contains(a))
}

/// The area paths of `entries` as the server computes anchors (a scope area's own path, a
/// building's grid path, a station's area path), from the device's copies; entries not held
/// or not placed whole give none.
pub(crate) fn anchors_of(conn: &Connection, entries: &[Id]) -> Result<Vec<Vec<Id>>> {
    let mut anchors = Vec::new();
    for id in entries {
        let Some(state) = records::load(conn, *id)? else {
            continue;
        };
        let mut lookup = |id| records::load(conn, id);
        let place = gridwork_domain::scope::locate(&state, &[], &mut lookup)?;
        if place.is_resolved() {
            anchors.push(place.areas);
        }
    }
    Ok(anchors)
}

/// The records held here that `old` saw and `new` does not, besides those just fetched (which
/// the server sent for the new scope). Every place is judged before anything is purged: a
/// resident is placed through its household, which may be going too.
pub(crate) fn to_purge(
    conn: &Connection,
    old: &ScopeView,
    new: &ScopeView,
    fetched: &HashSet<Id>,
) -> Result<Vec<Id>> {
    let mut out = Vec::new();
    for id in records::all_ids(conn)? {
        if fetched.contains(&id) {
            continue;
        }
        let Some(state) = records::load(conn, id)? else {
            continue;
        };
        let place = permissions::place(conn, &state)?;
        if visible(old, &place) && !visible(new, &place) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use gridwork_domain::sync::Role;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_grid_added_is_all_that_is_fetched_and_a_grid_taken_away_fetches_nothing() {
        let (path, a, b) = (vec![Uuid::now_v7()], Uuid::now_v7(), Uuid::now_v7());
        let anchor = |g: Id| [path.clone(), vec![g]].concat();
        let one = ScopeView::new(Role::Gridworker, vec![a], vec![anchor(a)]);
        let two = ScopeView::new(Role::Gridworker, vec![a, b], vec![anchor(a), anchor(b)]);
        assert_eq!(plan(Some(&one), &two), Plan::Gained(vec![b]));
        assert_eq!(plan(Some(&two), &one), Plan::Gained(vec![]));
        assert_eq!(kept(&one, &two), vec![a]);
        assert!(!kept_entries_moved(&one, &two, &[anchor(b)]));
        // The new grid's path not found on the device: fetch the kept entries too.
        assert!(kept_entries_moved(&one, &two, &[]));
    }

    #[test]
    fn a_new_role_no_stored_scope_or_an_admin_seeing_everything_takes_the_whole_scope() {
        let a = Uuid::now_v7();
        let worker = ScopeView::new(Role::Gridworker, vec![a], vec![vec![a]]);
        let dispatcher = ScopeView::new(Role::Dispatcher, vec![a], vec![vec![a]]);
        assert_eq!(plan(Some(&worker), &dispatcher), Plan::Whole);
        assert_eq!(plan(None, &worker), Plan::Whole);
        let admin = ScopeView::new(Role::Admin, vec![a], vec![vec![a]]);
        let root = ScopeView::new(Role::Admin, vec![], vec![]);
        assert_eq!(plan(Some(&admin), &root), Plan::Whole);
        assert_eq!(plan(Some(&root), &admin), Plan::Gained(vec![]));
    }

    #[test]
    fn a_building_moved_to_another_grid_is_a_kept_entry_that_moved() {
        let (grid_a, grid_b, building) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let before = ScopeView::new(Role::BuildingHead, vec![building], vec![vec![grid_a]]);
        let after = ScopeView::new(Role::BuildingHead, vec![building], vec![vec![grid_b]]);
        assert_eq!(plan(Some(&before), &after), Plan::Gained(vec![]));
        assert!(kept_entries_moved(&before, &after, &[]));
        assert_eq!(kept(&before, &after), vec![building]);
    }
}
