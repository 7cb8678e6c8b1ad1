//! Record locks for pushes on PostgreSQL: transaction-level advisory locks keyed by record id,
//! so pushes from every server process run in parallel and wait for one another only when they
//! touch the same records.
//!
//! # The rule
//! - A push holds an **exclusive** lock on every record it writes: the records its operations
//!   change (so two merges into one record never lose an update) and the buildings whose
//!   responders it rewrites.
//! - It holds a **shared** lock on every record whose state it reads to compute a place: the
//!   records above its records, along their stored links and their new ones (so a building
//!   being moved to another grid cannot change under a push placing a household in it).
//!   Records hanging from a record it moves need no lock: whoever writes one of them holds a
//!   shared lock on the moved record.
//!
//! # No deadlocks
//! Locks that may wait are taken at the start of the transaction, all at once, in key order.
//! A push discovers most of what it reads only while planning; those it takes with
//! `pg_try_advisory_xact_lock[_shared]`, which never waits. When one is refused, the push rolls
//! back and starts again with that key added to the locks it takes first ([`LockSet`]), so
//! waits only ever happen in key order and no cycle of waits can form.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use gridwork_domain::ids::Id;

use crate::storage::StorageError;

/// How a record is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// The advisory lock key of a record (its id's two halves folded; two ids sharing a key only
/// wait for each other needlessly).
pub fn key(id: Id) -> i64 {
    let (hi, lo) = id.as_u64_pair();
    (hi ^ lo) as i64
}

/// The locks a push takes at its start, in key order.
#[derive(Debug, Clone, Default)]
pub struct LockSet {
    keys: BTreeMap<i64, Mode>,
}

impl LockSet {
    /// Adds a lock (an exclusive one wins over a shared one on the same key). Returns whether
    /// the set changed.
    pub fn add(&mut self, id: Id, mode: Mode) -> bool {
        match self.keys.get_mut(&key(id)) {
            Some(held) if *held >= mode => false,
            Some(held) => {
                *held = mode;
                true
            }
            None => {
                self.keys.insert(key(id), mode);
                true
            }
        }
    }

    /// Whether this set already holds `id` at least in `mode`.
    pub fn holds(&self, id: Id, mode: Mode) -> bool {
        self.keys.get(&key(id)).is_some_and(|m| *m >= mode)
    }

    /// Takes every lock of the set, waiting as needed, in key order (one statement).
    pub async fn acquire(&self, client: &impl GenericClient) -> Result<(), StorageError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<i64> = self.keys.keys().copied().collect();
        let exclusive: Vec<bool> = self.keys.values().map(|m| *m == Mode::Exclusive).collect();
        // A function scan yields the array in order, and each row's lock is taken before the
        // next row is read.
        let stmt = client
            .prepare_cached(
                "SELECT CASE WHEN x THEN pg_advisory_xact_lock(k)
                             ELSE pg_advisory_xact_lock_shared(k) END::text
                 FROM unnest($1::int8[], $2::bool[]) AS t (k, x)",
            )
            .await?;
        client.execute(&stmt, &[&keys, &exclusive]).await?;
        Ok(())
    }
}

/// Tries to lock `ids` in `mode` without waiting; returns the ids whose lock another
/// transaction holds.
pub async fn try_lock(
    client: &impl GenericClient,
    ids: &[Id],
    mode: Mode,
) -> Result<Vec<Id>, StorageError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sorted: Vec<(i64, Id)> = ids.iter().map(|id| (key(*id), *id)).collect();
    sorted.sort();
    sorted.dedup_by_key(|(k, _)| *k);
    let keys: Vec<i64> = sorted.iter().map(|(k, _)| *k).collect();
    let sql = match mode {
        Mode::Shared => "SELECT pg_try_advisory_xact_lock_shared(k) FROM unnest($1::int8[]) AS k",
        Mode::Exclusive => "SELECT pg_try_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k",
    };
    let stmt = client.prepare_cached(sql).await?;
    let rows = client.query(&stmt, &[&keys]).await?;
    Ok(rows
        .iter()
        .zip(&sorted)
        .filter(|(row, _)| !row.get::<_, bool>(0))
        .map(|(_, (_, id))| *id)
        .collect())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn an_exclusive_lock_wins_over_a_shared_one_on_the_same_record() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut set = LockSet::default();
        assert!(set.add(a, Mode::Shared));
        assert!(!set.add(a, Mode::Shared), "held already");
        assert!(set.holds(a, Mode::Shared));
        assert!(!set.holds(a, Mode::Exclusive));
        assert!(set.add(a, Mode::Exclusive));
        assert!(set.holds(a, Mode::Exclusive));
        assert!(!set.add(a, Mode::Shared));
        assert!(set.holds(a, Mode::Exclusive), "never weakened");
        assert!(set.add(b, Mode::Shared));
        assert!(set.holds(b, Mode::Shared));
        assert_eq!(key(a), key(a));
        assert_ne!(key(a), key(b));
    }
}
