//! Key groups (一老一小): elderly people living alone, left-behind children and disabled
//! residents get a visit every so many days. This says who is due and who is overdue.
//!
//! A resident in several key groups is visited at the shortest of their intervals. A resident
//! never visited is overdue: nobody has seen them yet.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::{KeyGroup, Resident};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// How often each key group is visited, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupPolicy {
    /// 独居老人: weekly by default.
    pub elderly_living_alone_days: u32,
    /// 留守儿童: fortnightly by default.
    pub left_behind_child_days: u32,
    /// Disabled residents: fortnightly by default.
    pub disabled_days: u32,
}

impl Default for KeyGroupPolicy {
    fn default() -> KeyGroupPolicy {
        KeyGroupPolicy {
            elderly_living_alone_days: 7,
            left_behind_child_days: 14,
            disabled_days: 14,
        }
    }
}

impl KeyGroupPolicy {
    /// The visit interval for one group, in days.
    pub fn interval_days(&self, group: KeyGroup) -> u32 {
        match group {
            KeyGroup::ElderlyLivingAlone => self.elderly_living_alone_days,
            KeyGroup::LeftBehindChild => self.left_behind_child_days,
            KeyGroup::Disabled => self.disabled_days,
        }
    }

    /// The interval for a resident in `groups`: the shortest; `None` with no group.
    pub fn interval_for(&self, groups: &[KeyGroup]) -> Option<u32> {
        groups.iter().map(|g| self.interval_days(*g)).min()
    }
}

/// When a key-group resident's next visit is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitDue {
    pub resident_id: Id,
    /// The last visit, `None` if never visited.
    pub last_visit_ms: Option<u64>,
    /// The interval applied, in days.
    pub interval_days: u32,
    /// The last moment the next visit is on time: last visit + interval; 0 when never visited
    /// (due since always).
    pub due_ms: u64,
    /// How late the visit is at `now_ms` (0 when not late). A never-visited resident is late
    /// by `now_ms`, which sorts them before everyone else.
    pub overdue_by_ms: u64,
}

impl VisitDue {
    /// Late: past the due time, or never visited. At exactly the due time it is not late yet.
    pub fn is_overdue(&self) -> bool {
        self.last_visit_ms.is_none() || self.overdue_by_ms > 0
    }
}

/// The visit schedule of `resident` at `now_ms`; `None` for a resident in no key group or
/// archived (moved out).
pub fn visit_due(resident: &Resident, policy: &KeyGroupPolicy, now_ms: u64) -> Option<VisitDue> {
    if resident.archived {
        return None;
    }
    let interval_days = policy.interval_for(&resident.key_groups)?;
    let due_ms = match resident.last_visit_ms {
        Some(last) => last.saturating_add(u64::from(interval_days) * DAY_MS),
        None => 0,
    };
    Some(VisitDue {
        resident_id: resident.id,
        last_visit_ms: resident.last_visit_ms,
        interval_days,
        due_ms,
        overdue_by_ms: now_ms.saturating_sub(due_ms),
    })
}

/// Key-group residents whose visit is late at `now_ms`, most overdue first: the never-visited
/// first, then by how late, then by resident id.
pub fn overdue_visits(
    residents: &[Resident],
    policy: &KeyGroupPolicy,
    now_ms: u64,
) -> Vec<VisitDue> {
    let mut due: Vec<VisitDue> = residents
        .iter()
        .filter_map(|r| visit_due(r, policy, now_ms))
        .filter(VisitDue::is_overdue)
        .collect();
    due.sort_by(|a, b| {
        a.last_visit_ms
            .is_some()
            .cmp(&b.last_visit_ms.is_some())
            .then_with(|| b.overdue_by_ms.cmp(&a.overdue_by_ms))
            .then_with(|| a.resident_id.cmp(&b.resident_id))
    });
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::test_support::*;

    fn resident(n: u128, groups: &[KeyGroup], last_visit_ms: Option<u64>) -> Resident {
        Resident {
            id: id(n),
            household_id: id(0x40),
            name: format!("居民{n}"),
            id_number: None,
            phone: None,
            key_groups: groups.to_vec(),
            last_visit_ms,
            archived: false,
        }
    }

    use KeyGroup::*;

    #[test]
    fn an_old_man_living_alone_is_visited_every_week() {
        let p = KeyGroupPolicy::default();
        let grandpa = resident(1, &[ElderlyLivingAlone], Some(t0()));
        let due = visit_due(&grandpa, &p, t0() + 7 * DAY).unwrap();
        assert_eq!(due.due_ms, t0() + 7 * DAY);
        assert_eq!(due.interval_days, 7);
        assert!(
            !due.is_overdue(),
            "on the day and hour it is due, it is not late yet"
        );
        let late = visit_due(&grandpa, &p, t0() + 7 * DAY + 1).unwrap();
        assert!(late.is_overdue());
        assert_eq!(late.overdue_by_ms, 1);
    }

    #[test]
    fn a_left_behind_child_is_visited_every_fortnight() {
        let p = KeyGroupPolicy::default();
        let child = resident(2, &[LeftBehindChild], Some(t0()));
        assert_eq!(visit_due(&child, &p, t0()).unwrap().due_ms, t0() + 14 * DAY);
        let disabled = resident(3, &[Disabled], Some(t0()));
        assert_eq!(
            visit_due(&disabled, &p, t0()).unwrap().due_ms,
            t0() + 14 * DAY
        );
    }

    #[test]
    fn a_resident_in_two_groups_is_visited_at_the_shorter_interval() {
        let p = KeyGroupPolicy::default();
        let r = resident(4, &[Disabled, ElderlyLivingAlone], Some(t0()));
        assert_eq!(visit_due(&r, &p, t0()).unwrap().interval_days, 7);
    }

    #[test]
    fn residents_in_no_key_group_or_moved_out_have_no_visits() {
        let p = KeyGroupPolicy::default();
        assert_eq!(visit_due(&resident(5, &[], None), &p, t0()), None);
        let mut moved = resident(6, &[ElderlyLivingAlone], None);
        moved.archived = true;
        assert_eq!(visit_due(&moved, &p, t0()), None);
        assert!(overdue_visits(&[moved], &p, t0()).is_empty());
    }

    #[test]
    fn the_never_visited_come_first_then_the_most_overdue() {
        let p = KeyGroupPolicy::default();
        let now = t0() + 30 * DAY;
        let residents = [
            resident(1, &[ElderlyLivingAlone], Some(now - 8 * DAY)), // 1 day late
            resident(2, &[LeftBehindChild], Some(now - 20 * DAY)),   // 6 days late
            resident(3, &[ElderlyLivingAlone], None),                // never visited
            resident(4, &[ElderlyLivingAlone], Some(now - DAY)),     // fine
            resident(5, &[Disabled], None),                          // never visited
        ];
        let order: Vec<Id> = overdue_visits(&residents, &p, now)
            .iter()
            .map(|v| v.resident_id)
            .collect();
        assert_eq!(order, vec![id(3), id(5), id(2), id(1)]);
        let never = visit_due(&residents[2], &p, now).unwrap();
        assert_eq!((never.due_ms, never.overdue_by_ms), (0, now));
    }

    #[test]
    fn the_policy_is_configurable() {
        let p = KeyGroupPolicy {
            elderly_living_alone_days: 3,
            ..KeyGroupPolicy::default()
        };
        let r = resident(1, &[ElderlyLivingAlone], Some(t0()));
        assert_eq!(visit_due(&r, &p, t0()).unwrap().due_ms, t0() + 3 * DAY);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<KeyGroupPolicy>(&json).unwrap(), p);
    }
}
