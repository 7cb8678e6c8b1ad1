//! The next snapshot page, read while the phone takes the current one (ADR 0052).
//!
//! A new phone asks for its snapshot one page at a time, each page from the cursor of the one
//! before, so the server's reading of a page and the phone's receiving and decoding of the one
//! before it used to take turns. When a page with more to follow is served, the page after it
//! is started at once on a task of its own, for the same user, the same view, the same size;
//! the request that asks for it takes it (or waits for its end) instead of reading it again.
//!
//! Taken only by a request whose key is the same in every part: the user, the view the request
//! computed for them (role, scope and anchors: a user given another scope meanwhile has another
//! view, so reads afresh), the cursor and the page size. A page read ahead is at least as new as
//! the first page of the same snapshot, whose sequence number the phone pulls from afterwards,
//! so what changed between the reading and the asking reaches the phone as it would have.
//!
//! Bounded: at most [`CAPACITY`] pages wait (when that many do, the next page is read when
//! asked, as without read-ahead), and one not asked for within [`MAX_AGE`] is dropped (a phone
//! that stopped halfway). Each server process keeps its
//! own: a phone whose next request reaches another process is answered as before.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gridwork_domain::ids::Id;
use tokio::sync::oneshot;

use crate::rules::reading::ScopeFilter;
use crate::storage::{SnapshotPage, Storage};

/// Pages read ahead that may wait at once (a page is at most `MAX_PAGE_BYTES` of records).
pub const CAPACITY: usize = 8;

/// How long a page read ahead waits to be asked for.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// What a page is read for: taken only by a request that is the same in every part.
#[derive(Debug, Clone, PartialEq)]
pub struct AheadKey {
    pub user: Id,
    pub filter: ScopeFilter,
    pub after: Id,
    pub limit: usize,
}

struct Waiting {
    key: AheadKey,
    started: Instant,
    page: oneshot::Receiver<SnapshotPage>,
}

/// The pages read ahead of this process, shared by every clone of the state.
pub struct SnapshotsAhead {
    waiting: Mutex<Vec<Waiting>>,
    max_age: Duration,
}

impl Default for SnapshotsAhead {
    fn default() -> SnapshotsAhead {
        SnapshotsAhead::with_max_age(MAX_AGE)
    }
}

impl std::fmt::Debug for SnapshotsAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotsAhead")
            .field("waiting", &self.waiting().len())
            .finish()
    }
}

impl SnapshotsAhead {
    /// Pages that wait at most `max_age` to be asked for ([`MAX_AGE`] by default).
    pub fn with_max_age(max_age: Duration) -> SnapshotsAhead {
        SnapshotsAhead {
            waiting: Mutex::default(),
            max_age,
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many pages wait (read or being read).
    pub fn len(&self) -> usize {
        self.waiting().len()
    }

    /// Whether no page waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts reading the page of `key` on a task of its own, unless one already is or
    /// [`CAPACITY`] pages wait.
    pub fn start<S: Storage>(&self, storage: Arc<S>, key: AheadKey) {
        let mut waiting = self.waiting();
        waiting.retain(|w| w.started.elapsed() < self.max_age);
        if waiting.iter().any(|w| w.key == key) {
            return;
        }
        // Full: this page is read when asked, as without read-ahead. Dropping a waiting page
        // for it instead would, with more phones bootstrapping at once than pages may wait,
        // throw away page after page already read and so read every page twice.
        if waiting.len() >= CAPACITY {
            return;
        }
        let (send, page) = oneshot::channel();
        let (after, limit, filter) = (key.after, key.limit, key.filter.clone());
        tokio::spawn(async move {
            match storage.snapshot_page(Some(after), limit, filter).await {
                // Nobody waiting any more (dropped, or taken by no one): the page goes.
                Ok(page) => drop(send.send(page)),
                // The request that asks for it reads it itself, and answers its error if any.
                Err(e) => tracing::debug!(error = %e, "snapshot page read ahead failed"),
            }
        });
        waiting.push(Waiting {
            key,
            started: Instant::now(),
            page,
        });
    }

    /// The page read ahead for `key`, removed from those waiting; `None` when there is none
    /// (never started, too old, dropped for others, or its read failed).
    pub async fn take(&self, key: &AheadKey) -> Option<SnapshotPage> {
        let found = {
            let mut waiting = self.waiting();
            let at = waiting
                .iter()
                .position(|w| w.key == *key && w.started.elapsed() < self.max_age)?;
            waiting.remove(at)
        };
        found.page.await.ok()
    }
}
