//! Sync through a transport that loses answers, sends pushes twice and replays pulls from the
//! start: nothing is lost and nothing is applied twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gridwork_core::sync::transport::Sized;
use gridwork_core::{HttpTransport, Transport, TransportError};
use gridwork_domain::ids::Id;
use gridwork_domain::model::Household;
use gridwork_domain::sync::*;

use crate::harness::*;

/// A transport that misbehaves on purpose in front of the real one.
pub struct Faulty<'a> {
    pub inner: &'a HttpTransport,
    /// The next push reaches the server but its answer is lost.
    pub lose_next_push_answer: AtomicBool,
    /// Every push is sent twice (a retry racing the original).
    pub double_push: bool,
    /// The operation at this index of the next push is altered so the server must reject it
    /// (its stamp claims another device).
    pub tamper_with: Option<usize>,
    /// Every pull asks from the beginning, so every operation arrives again and again.
    pub replay_pulls: bool,
    pub pushes_sent: AtomicUsize,
    /// Every push answer that came back, in order.
    pub push_answers: Mutex<Vec<PushResponse>>,
}

impl<'a> Faulty<'a> {
    pub fn new(inner: &'a HttpTransport) -> Faulty<'a> {
        Faulty {
            inner,
            lose_next_push_answer: AtomicBool::new(false),
            double_push: false,
            replay_pulls: false,
            tamper_with: None,
            pushes_sent: AtomicUsize::new(0),
            push_answers: Mutex::new(Vec::new()),
        }
    }
}

impl Transport for Faulty<'_> {
    async fn enroll(&self, req: &EnrollRequest) -> Result<Sized<EnrollResponse>, TransportError> {
        self.inner.enroll(req).await
    }

    async fn push(&self, req: &PushRequest) -> Result<Sized<PushResponse>, TransportError> {
        self.pushes_sent.fetch_add(1, Ordering::SeqCst);
        let mut req = req.clone();
        if let Some(op) = self.tamper_with.and_then(|i| req.ops.get_mut(i)) {
            op.stamp.device = uuid::Uuid::now_v7();
        }
        let req = &req;
        let mut answer = self.inner.push(req).await;
        if self.double_push {
            answer = self.inner.push(req).await;
        }
        if self.lose_next_push_answer.swap(false, Ordering::SeqCst) {
            return Err(TransportError::Unreachable(
                "connection reset before the answer".into(),
            ));
        }
        if let Ok(a) = &answer {
            self.push_answers.lock().unwrap().push(a.value.clone());
        }
        answer
    }

    async fn pull(
        &self,
        after: u64,
        limit: usize,
        wait_s: u64,
    ) -> Result<Sized<PullResponse>, TransportError> {
        let after = if self.replay_pulls { 0 } else { after };
        self.inner.pull(after, limit, wait_s).await
    }

    async fn snapshot(
        &self,
        after: Option<Id>,
        limit: usize,
    ) -> Result<Sized<SnapshotResponse>, TransportError> {
        self.inner.snapshot(after, limit).await
    }

    fn set_token(&self, token: Option<String>) {
        self.inner.set_token(token)
    }
}

#[tokio::test]
async fn a_push_whose_answer_is_lost_is_retried_and_stored_once() {
    let server = TestServer::start().await;
    let (a, seeded) = seeded_admin(&server, "吴敏").await;
    let h = seeded.households[0].id;
    a.gw.update::<Household>(h, |h| h.phone = Some("13500001234".into()))
        .unwrap();

    let faulty = Faulty::new(&a.net);
    faulty.lose_next_push_answer.store(true, Ordering::SeqCst);
    let err = a.gw.sync_now(&faulty).await.unwrap_err();
    assert!(err.is_retryable(), "a lost answer is worth retrying: {err}");
    assert_eq!(
        a.gw.pending_count().unwrap(),
        1,
        "unacknowledged, so still queued"
    );
    assert_eq!(a.gw.sync_state(), gridwork_core::SyncState::Offline);

    let report = a.gw.sync_now(&faulty).await.unwrap();
    assert_eq!(
        report.pushed, 1,
        "the server answers 'duplicate' and the op leaves the outbox"
    );
    assert_eq!(a.gw.pending_count().unwrap(), 0);

    // Another device sees the edit exactly once in the log.
    let b = Device::enrolled(&server, "郑强", gridwork_domain::sync::Role::Admin, vec![]).await;
    let mut after = 0;
    let mut seen = 0;
    loop {
        let page = b.net.pull(after, MAX_PULL_LIMIT, 0).await.unwrap().value;
        seen += page
            .ops
            .iter()
            .filter(|s| s.op.entity_id == h && s.op.body_name() == "set")
            .count();
        after = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(
        seen, 2,
        "the household's creation and the one edit, no copy"
    );
}

#[tokio::test]
async fn retry_with_backoff_gets_through_once_the_network_is_back() {
    let server = TestServer::start().await;
    let (a, seeded) = seeded_admin(&server, "冯军").await;
    a.gw.update::<Household>(seeded.households[0].id, |h| h.unit = "8-801".into())
        .unwrap();
    let faulty = Faulty::new(&a.net);
    faulty.lose_next_push_answer.store(true, Ordering::SeqCst);
    let policy = gridwork_core::RetryPolicy {
        max_attempts: 4,
        base: std::time::Duration::from_millis(5),
        max: std::time::Duration::from_millis(20),
    };
    let report = a.gw.sync_with_retry(&faulty, policy).await.unwrap();
    assert_eq!(report.pushed, 1);
    assert_eq!(
        faulty.pushes_sent.load(Ordering::SeqCst),
        2,
        "one lost, one retried"
    );
    assert_eq!(a.gw.sync_state(), gridwork_core::SyncState::Idle);
}

#[tokio::test]
async fn a_rejected_operation_is_quarantined_with_its_reason_and_does_not_block_the_rest() {
    let server = TestServer::start().await;
    let (a, seeded) = seeded_admin(&server, "何静").await;
    for (i, h) in seeded.households.iter().take(3).enumerate() {
        a.gw.update::<Household>(h.id, |h| h.unit = format!("7-70{i}"))
            .unwrap();
    }
    let mut faulty = Faulty::new(&a.net);
    faulty.tamper_with = Some(1);
    let report = a.gw.sync_now(&faulty).await.unwrap();
    assert_eq!((report.pushed, report.rejected), (2, 1));
    assert_eq!(
        a.gw.pending_count().unwrap(),
        0,
        "nothing left blocking the queue"
    );
    let rejected = a.gw.rejected_ops().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].op.entity_id, seeded.households[1].id);
    assert!(
        rejected[0]
            .rejected
            .as_deref()
            .unwrap()
            .starts_with("wrong_device"),
        "{rejected:?}"
    );

    // It is not resent on the next run.
    let sent = faulty.pushes_sent.load(Ordering::SeqCst);
    let report = a.gw.sync_now(&a.net).await.unwrap();
    assert_eq!(report.pushed + report.rejected, 0);
    assert_eq!(faulty.pushes_sent.load(Ordering::SeqCst), sent);
    let b = Device::enrolled(&server, "韩梅", gridwork_domain::sync::Role::Admin, vec![]).await;
    b.sync().await;
    assert_eq!(
        b.gw.get::<Household>(seeded.households[0].id).unwrap().unit,
        "7-700"
    );
    assert_eq!(
        b.gw.get::<Household>(seeded.households[2].id).unwrap().unit,
        "7-702"
    );
}
