//! A [`Transport`] that hands the device's sync engine one fuzzed page (a snapshot page or a
//! pull page) and otherwise answers "nothing more", so the engine's real bootstrap and pull
//! steps apply the page exactly as they would one from the server.

use std::sync::Mutex;

use gridwork_core::sync::transport::Sized;
use gridwork_core::{Transport, TransportError};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::*;

use crate::ops::NOW_MS;

/// Answers the first snapshot and the first pull with the given pages, then empty last pages.
#[derive(Debug, Default)]
pub struct Replay {
    snapshot: Mutex<Option<SnapshotResponse>>,
    pull: Mutex<Option<PullResponse>>,
}

impl Replay {
    /// A replay of `snapshot` (as the first page of a bootstrap) and `pull` (as the first page
    /// after it).
    pub fn new(snapshot: Option<SnapshotResponse>, pull: Option<PullResponse>) -> Replay {
        Replay {
            snapshot: Mutex::new(snapshot),
            pull: Mutex::new(pull),
        }
    }
}

fn sized<T>(value: T) -> Result<Sized<T>, TransportError> {
    Ok(Sized { value, bytes: 0 })
}

impl Transport for Replay {
    async fn enroll(&self, _: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        Err(TransportError::Unreachable(
            "no enrollment while fuzzing".into(),
        ))
    }

    async fn push(&self, _: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        sized(PushResponse {
            results: vec![],
            server_time_ms: NOW_MS,
            records: vec![],
            events: vec![],
            evict: vec![],
        })
    }

    async fn pull(
        &self,
        after: u64,
        _: usize,
        _: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let page = self.pull.lock().unwrap().take();
        sized(page.unwrap_or(PullResponse {
            ops: vec![],
            next: after,
            more: false,
            server_time_ms: NOW_MS,
            records: vec![],
            events: vec![],
            evict: vec![],
            user: None,
        }))
    }

    async fn snapshot(
        &self,
        _: Option<Id>,
        _: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        let page = self.snapshot.lock().unwrap().take();
        sized(page.unwrap_or(SnapshotResponse {
            seq: 0,
            records: vec![],
            events: vec![],
            next_after: None,
            server_time_ms: NOW_MS,
            total_records: None,
        }))
    }

    fn set_token(&self, _: Option<String>) {}
}
