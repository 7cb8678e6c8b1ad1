//! An in-process stand-in for the server that serves a prepared operation log in pull pages,
//! so the apply scenarios measure the device's real pull step (page, apply, cursor, one
//! transaction) without HTTP or JSON in the way.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use gridwork_core::sync::transport::Sized;
use gridwork_core::{Transport, TransportError};
use gridwork_domain::ids::Id;
use gridwork_domain::op::Op;
use gridwork_domain::sync::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, SequencedOp,
    SnapshotResponse,
};

/// A log the device pulls from; its snapshot is empty.
#[derive(Debug, Default)]
pub struct MemLog {
    ops: Mutex<Vec<SequencedOp>>,
    next_seq: AtomicU64,
}

impl MemLog {
    /// Appends operations with the next sequence numbers.
    pub fn append(&self, ops: Vec<Op>) {
        let mut log = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
            log.push(SequencedOp { seq, op });
        }
    }

    /// Drops the operations already served (memory, for the large growth runs); numbering
    /// goes on where it was.
    pub fn clear(&self) {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Transport for MemLog {
    async fn enroll(&self, _: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        Err(TransportError::BadAnswer(
            "the in-memory log does not enroll".into(),
        ))
    }

    async fn push(&self, _: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        Err(TransportError::BadAnswer(
            "the in-memory log takes no pushes".into(),
        ))
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        _wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let log = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let start = log.partition_point(|s| s.seq <= after);
        let end = (start + limit).min(log.len());
        let ops = log[start..end].to_vec();
        Ok(Sized {
            bytes: 0,
            value: PullResponse {
                next: ops.last().map_or(after, |s| s.seq),
                more: end < log.len(),
                ops,
                server_time_ms: crate::dataset::now_ms(),
                records: vec![],
                events: vec![],
                evict: vec![],
                user: None,
            },
        })
    }

    async fn snapshot(
        &self,
        _after: Option<Id>,
        _limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        Ok(Sized {
            bytes: 0,
            value: SnapshotResponse {
                seq: 0,
                records: vec![],
                events: vec![],
                next_after: None,
                server_time_ms: crate::dataset::now_ms(),
                total_records: None,
            },
        })
    }

    fn set_token(&self, _: Option<String>) {}
}
