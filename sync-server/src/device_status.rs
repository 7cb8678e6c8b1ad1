//! What each phone reports of its sync, for the console's list of phones: when the server last
//! served one of its requests and how many changes its outbox still held
//! (`docs/sync-protocol.md`, "Device status").
//!
//! A phone sends its count in the [`UNSYNCED_HEADER`] request header on every authenticated
//! request; an older app sends none and is recorded with its time only. The time is the
//! server's, not the phone's (a phone's clock may be off by hours, ADR 0007).
//!
//! # Off the push path
//! A status is noted in memory ([`StatusBook::note`]: a map insert under a short lock) and
//! written behind, all the statuses noted meanwhile in one batch ([`FLUSH_AFTER`] after the
//! first of them), outside any push's transaction; the server flushes what is left when it
//! stops. The console reads the stored statuses with the ones still in memory on top, so it
//! shows a sync at once. A status lost in a crash costs the list one sync's freshness, nothing
//! else: the next sync records it again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use gridwork_domain::ids::DeviceId;

use crate::http::ApiError;
use crate::storage::{DeviceStatus, Storage, StorageError};

/// The request header carrying the phone's unsynced count: `Gridwork-Unsynced: 3`.
pub const UNSYNCED_HEADER: &str = "gridwork-unsynced";

/// How long a noted status waits in memory before it is written, with those noted meanwhile.
pub const FLUSH_AFTER: Duration = Duration::from_secs(2);

/// The count a request reports: `None` without the header, 400 when it is not a whole number.
pub fn reported_unsynced(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(UNSYNCED_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_header",
                "the Gridwork-Unsynced header must be the number of changes waiting to be pushed",
            )
        })
}

/// Two statuses of one phone as one: the later time, and the later count known.
fn merge(old: DeviceStatus, new: DeviceStatus) -> DeviceStatus {
    let (early, late) = if new.synced_ms >= old.synced_ms {
        (old, new)
    } else {
        (new, old)
    };
    DeviceStatus {
        device: late.device,
        synced_ms: late.synced_ms,
        unsynced: late.unsynced.or(early.unsynced),
    }
}

/// Statuses noted and not written yet.
#[derive(Debug, Default)]
pub struct StatusBook {
    pending: Mutex<HashMap<DeviceId, DeviceStatus>>,
    /// Whether a write-behind is already scheduled.
    scheduled: AtomicBool,
}

impl StatusBook {
    /// Notes a phone's status and, unless one is scheduled, schedules a write of everything
    /// noted in [`FLUSH_AFTER`]. Never waits for storage.
    pub fn note<S: Storage>(self: &Arc<Self>, storage: &Arc<S>, status: DeviceStatus) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let merged = match pending.get(&status.device) {
                Some(old) => merge(*old, status),
                None => status,
            };
            pending.insert(status.device, merged);
        }
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let book = self.clone();
            let storage = storage.clone();
            tokio::spawn(async move {
                tokio::time::sleep(FLUSH_AFTER).await;
                book.scheduled.store(false, Ordering::Release);
                if let Err(e) = book.flush(storage.as_ref()).await {
                    tracing::warn!(error = %e, "phones' sync statuses not recorded; kept for the next write");
                }
            });
        }
    }

    /// Writes every status noted so far; on failure they are kept for the next write.
    pub async fn flush<S: Storage>(&self, storage: &S) -> Result<usize, StorageError> {
        let batch: Vec<DeviceStatus> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().map(|(_, s)| s).collect()
        };
        let n = batch.len();
        if let Err(e) = storage.record_device_statuses(batch.clone()).await {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for s in batch {
                let merged = match pending.get(&s.device) {
                    Some(newer) => merge(s, *newer),
                    None => s,
                };
                pending.insert(s.device, merged);
            }
            return Err(e);
        }
        Ok(n)
    }

    /// The stored statuses with the ones not written yet on top, by device.
    pub async fn current<S: Storage>(
        &self,
        storage: &S,
    ) -> Result<HashMap<DeviceId, DeviceStatus>, StorageError> {
        let mut all: HashMap<DeviceId, DeviceStatus> = storage
            .device_statuses()
            .await?
            .into_iter()
            .map(|s| (s.device, s))
            .collect();
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for s in pending.values() {
            let merged = match all.get(&s.device) {
                Some(stored) => merge(*stored, *s),
                None => *s,
            };
            all.insert(s.device, merged);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ms: u64, unsynced: Option<u64>) -> DeviceStatus {
        DeviceStatus {
            device: DeviceId::nil(),
            synced_ms: ms,
            unsynced,
        }
    }

    #[test]
    fn the_later_sync_wins_and_a_missing_count_keeps_the_known_one() {
        assert_eq!(
            merge(status(1, Some(5)), status(2, Some(0))),
            status(2, Some(0))
        );
        // A request without the header (a snapshot page before the first push) keeps the
        // count known from before.
        assert_eq!(
            merge(status(1, Some(5)), status(2, None)),
            status(2, Some(5))
        );
        // A status that arrives late (another process's write) does not go back in time.
        assert_eq!(
            merge(status(3, Some(1)), status(2, Some(9))),
            status(3, Some(1))
        );
    }

    #[test]
    fn a_count_must_be_a_whole_number() {
        let mut h = HeaderMap::new();
        assert_eq!(reported_unsynced(&h).unwrap(), None);
        h.insert(UNSYNCED_HEADER, " 12 ".parse().unwrap());
        assert_eq!(reported_unsynced(&h).unwrap(), Some(12));
        for bad in ["-1", "three", "1.5", ""] {
            h.insert(UNSYNCED_HEADER, bad.parse().unwrap());
            assert!(reported_unsynced(&h).is_err(), "{bad}");
        }
    }
}
