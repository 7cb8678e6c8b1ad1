//! The next snapshot page, read while the phone takes the current one (ADR 0052).
//!
//! A new phone asks for its snapshot one page at a time, each page from the cursor of the one
//! before, so the server's reading of a page and the phone's receiving and decoding of the one
//! before it used to take turns. When a page with more to follow is served, the page after it
//! is started at once on a task of its own, for the same user, the same view, the same size;
//! the request that asks for it takes it (or waits for its end) instead of reading it again.
//!
//! The page is also encoded ahead: its records and events are written as JSON on the same task
//! ([`EncodedPage`]), so the request that takes it only wraps them with the answer's own fields
//! (the server's time, the total) and compresses. Encoding a page of a thousand records is most
//! of what a request does once its records are read, and the phone waited for it.
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
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use crate::rules::reading::ScopeFilter;
use crate::storage::{SnapshotPage, Storage, StorageError};

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
    page: oneshot::Receiver<EncodedPage>,
}

/// A snapshot page with its records and events already written as JSON: all an answer needs
/// of it (`GET /v1/snapshot` answers a `SnapshotResponse`, whose other fields are the
/// request's own).
#[derive(Debug, Clone)]
pub struct EncodedPage {
    /// The page's sequence number ([`SnapshotPage::seq`]).
    pub seq: u64,
    /// Where the next page starts ([`SnapshotPage::next_after`]).
    pub next_after: Option<Id>,
    /// How many records and events it holds (for the log).
    pub records: usize,
    pub events: usize,
    records_json: Box<RawValue>,
    events_json: Box<RawValue>,
}

impl EncodedPage {
    /// `page`, its records and events encoded.
    pub fn of(page: &SnapshotPage) -> Result<EncodedPage, StorageError> {
        let encode = |json: serde_json::Result<String>| {
            json.and_then(RawValue::from_string)
                .map_err(|e| StorageError::Task(format!("encoding a snapshot page: {e}")))
        };
        Ok(EncodedPage {
            seq: page.seq,
            next_after: page.next_after,
            records: page.records.len(),
            events: page.events.len(),
            records_json: encode(serde_json::to_string(&page.records))?,
            events_json: encode(serde_json::to_string(&page.events))?,
        })
    }

    /// The body of the answer: a `SnapshotResponse` with the server's time and, on a first
    /// page, the total.
    pub fn answer(
        &self,
        server_time_ms: u64,
        total_records: Option<u64>,
    ) -> Result<Vec<u8>, StorageError> {
        // The fields, their order and names of `SnapshotResponse` (a test decodes one as the
        // other).
        #[derive(Serialize)]
        struct Answer<'a> {
            seq: u64,
            records: &'a RawValue,
            events: &'a RawValue,
            next_after: Option<Id>,
            server_time_ms: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            total_records: Option<u64>,
        }
        serde_json::to_vec(&Answer {
            seq: self.seq,
            records: &self.records_json,
            events: &self.events_json,
            next_after: self.next_after,
            server_time_ms,
            total_records,
        })
        .map_err(|e| StorageError::Task(format!("encoding a snapshot answer: {e}")))
    }
}

impl PartialEq for EncodedPage {
    fn eq(&self, other: &EncodedPage) -> bool {
        (self.seq, self.next_after, self.records, self.events)
            == (other.seq, other.next_after, other.records, other.events)
            && self.records_json.get() == other.records_json.get()
            && self.events_json.get() == other.events_json.get()
    }
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
            let read = storage.snapshot_page(Some(after), limit, filter).await;
            match read.and_then(|page| EncodedPage::of(&page)) {
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

    /// The page read (and encoded) ahead for `key`, removed from those waiting; `None` when
    /// there is none (never started, too old, dropped for others, or its read failed).
    pub async fn take(&self, key: &AheadKey) -> Option<EncodedPage> {
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
