//! Waking the long polls a push concerns, and only those. A waiting poll registers the buckets
//! its reader reads ([`gridwork_domain::scope::read_by`]); a push wakes the polls registered on
//! the buckets its stored operations were filed under. With thousands of phones waiting, one
//! push to one grid wakes the few phones of that grid (and the command centre), not the city:
//! no other poll re-reads anything.
//!
//! A wake is never lost: each registration keeps a permit ([`tokio::sync::Notify::notify_one`]),
//! so a push stored between a poll's registration and its wait still ends the wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gridwork_domain::scope::Bucket;
use tokio::sync::Notify;

/// The registry of waiting polls. Shared (`Arc`) by a storage and the polls it serves.
#[derive(Debug, Default)]
pub struct Wakeups {
    registry: Mutex<Registry>,
    woken: AtomicU64,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    by_bucket: HashMap<Bucket, HashMap<u64, Arc<Waiter>>>,
    /// Readers of everything (an all-seeing admin): woken by every push.
    everything: HashMap<u64, Arc<Waiter>>,
    waiting: usize,
}

#[derive(Debug, Default)]
struct Waiter {
    notify: Notify,
    /// The latest sequence number a wake named.
    latest: AtomicU64,
}

impl Wakeups {
    /// Registers a poll reading `buckets` (`None`: everything) until the returned [`Interest`]
    /// is dropped.
    pub fn register(self: &Arc<Self>, buckets: Option<Vec<Bucket>>) -> Interest {
        let waiter = Arc::new(Waiter::default());
        let mut registry = self.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.waiting += 1;
        match &buckets {
            None => {
                registry.everything.insert(id, waiter.clone());
            }
            Some(buckets) => {
                for bucket in buckets {
                    registry
                        .by_bucket
                        .entry(*bucket)
                        .or_default()
                        .insert(id, waiter.clone());
                }
            }
        }
        Interest {
            wakeups: self.clone(),
            id,
            buckets,
            waiter,
        }
    }

    /// Wakes the polls registered on any of `touched` (and every reader of everything), telling
    /// them the log reached `seq`. Returns how many polls it woke.
    pub fn wake(&self, touched: &[Bucket], seq: u64) -> usize {
        let registry = self.lock();
        let mut woken: HashMap<u64, &Arc<Waiter>> = HashMap::new();
        for bucket in touched {
            if let Some(waiters) = registry.by_bucket.get(bucket) {
                woken.extend(waiters.iter().map(|(id, w)| (*id, w)));
            }
        }
        woken.extend(registry.everything.iter().map(|(id, w)| (*id, w)));
        for waiter in woken.values() {
            waiter.latest.fetch_max(seq, Ordering::AcqRel);
            waiter.notify.notify_one();
        }
        self.woken.fetch_add(woken.len() as u64, Ordering::Relaxed);
        woken.len()
    }

    /// Wakes every waiting poll (a push whose buckets were not named, e.g. a notification too
    /// long to list them).
    pub fn wake_all(&self, seq: u64) -> usize {
        let registry = self.lock();
        let mut woken: HashMap<u64, &Arc<Waiter>> =
            registry.everything.iter().map(|(id, w)| (*id, w)).collect();
        for waiters in registry.by_bucket.values() {
            woken.extend(waiters.iter().map(|(id, w)| (*id, w)));
        }
        for waiter in woken.values() {
            waiter.latest.fetch_max(seq, Ordering::AcqRel);
            waiter.notify.notify_one();
        }
        self.woken.fetch_add(woken.len() as u64, Ordering::Relaxed);
        woken.len()
    }

    /// How many polls are waiting now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    /// How many wake-ups were sent since the start (one per poll per push that concerned it).
    pub fn woken_total(&self) -> u64 {
        self.woken.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Nothing panics while holding it; a poisoned registry is still consistent.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One waiting poll's registration; dropping it unregisters.
#[derive(Debug)]
pub struct Interest {
    wakeups: Arc<Wakeups>,
    id: u64,
    buckets: Option<Vec<Bucket>>,
    waiter: Arc<Waiter>,
}

impl Interest {
    /// Waits for a push that concerns this poll (at once if one came since the last wait).
    pub async fn notified(&self) {
        self.waiter.notify.notified().await;
    }

    /// The latest sequence number a wake of this poll named (0 before any).
    pub fn latest(&self) -> u64 {
        self.waiter.latest.load(Ordering::Acquire)
    }
}

impl Drop for Interest {
    fn drop(&mut self) {
        let mut registry = self.wakeups.lock();
        registry.waiting = registry.waiting.saturating_sub(1);
        match &self.buckets {
            None => {
                registry.everything.remove(&self.id);
            }
            Some(buckets) => {
                for bucket in buckets {
                    if let Some(waiters) = registry.by_bucket.get_mut(bucket) {
                        waiters.remove(&self.id);
                        if waiters.is_empty() {
                            registry.by_bucket.remove(bucket);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;

    #[tokio::test]
    async fn a_push_to_one_grid_wakes_that_grids_phone_and_the_command_centre_only() {
        let w = Arc::new(Wakeups::default());
        let (grid_a, grid_b, sub) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let phone_a = w.register(Some(vec![Bucket::Under(grid_a)]));
        let phone_b = w.register(Some(vec![Bucket::Under(grid_b)]));
        let centre = w.register(Some(vec![Bucket::Under(sub)]));
        let admin = w.register(None);
        assert_eq!(w.waiting(), 4);

        let woken = w.wake(&[Bucket::Under(sub), Bucket::Under(grid_a)], 42);
        assert_eq!(woken, 3, "phone A, the centre and the all-seeing admin");
        // The permit was kept: waiting now returns at once.
        tokio::time::timeout(Duration::from_secs(1), phone_a.notified())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), centre.notified())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), admin.notified())
            .await
            .unwrap();
        assert_eq!(phone_a.latest(), 42);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), phone_b.notified())
                .await
                .is_err(),
            "grid B's phone is not woken"
        );
        assert_eq!(phone_b.latest(), 0);
        drop(phone_b);
        assert_eq!(w.waiting(), 3);
        assert_eq!(w.wake(&[Bucket::Under(grid_b)], 43), 1, "only the admin");
        drop((phone_a, centre, admin));
        assert_eq!(w.waiting(), 0);
        assert_eq!(w.wake_all(44), 0);
        assert_eq!(w.woken_total(), 4);
    }
}
