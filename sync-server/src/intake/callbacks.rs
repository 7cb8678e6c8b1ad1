//! Callbacks: every step taken on a case a source system sent is POSTed to the callback URL it
//! registered, signed with its shared secret, at least once.
//!
//! One task per server process ([`run`]) does two things in turn:
//! - **scan**: reads the operation log after the callback cursor; each case event of a case
//!   taken in through the intake API becomes a queued callback (its body fixed now), and the
//!   cursor moves in the same transaction, by compare-and-set, so two processes scanning the
//!   same stretch queue it once. The queue is a table: it survives restarts.
//! - **deliver**: claims due callbacks (with a lease, so another process does not send the same
//!   one meanwhile), POSTs each, and marks it delivered on a 2xx answer; anything else (refused,
//!   dropped connection, timeout) is retried after a backoff that doubles from
//!   [`FIRST_RETRY_MS`] up to [`MAX_RETRY_MS`], for [`MAX_ATTEMPTS`] attempts.
//!
//! Each callback carries `Idempotency-Key: <event id>` (a receiver that saw it already answers
//! 2xx and ignores it: a callback may arrive twice, when an answer is lost) and
//! `X-Gridwork-Signature: t=<ms>,v1=<hex HMAC-SHA256 of "<ms>.<body>">` ([`sign`],
//! [`verify`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gridwork_domain::ids::Id;
use gridwork_domain::model::Case;
use gridwork_domain::op::{EntityKind, OpBody};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::watch;

use super::ssrf::CallbackPolicy;
use super::{OrderKind, Step, timeline};
use crate::clock::ServerClock;
use crate::storage::intake::{NewCallback, ServiceAccount};
use crate::storage::{Storage, StorageError};

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "x-gridwork-signature";
/// The header with the idempotency key (the step's event id).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The first retry comes this long after a failed attempt; each next one twice as long.
pub const FIRST_RETRY_MS: u64 = 500;
/// Retries are never further apart than this.
pub const MAX_RETRY_MS: u64 = 15 * 60 * 1000;
/// Attempts before a callback is given up (kept in the queue with its last error): about
/// six hours of retries.
pub const MAX_ATTEMPTS: u32 = 30;
/// How long a claimed callback is not handed to another process.
const LEASE_MS: u64 = 60_000;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the task looks for work when nothing wakes it.
const TICK: Duration = Duration::from_millis(200);
/// How long the scan waits for the order row of a service account's case step (see `scan`).
const HOLD_MS: u64 = 30_000;

/// The body of a callback: one step of one case, with the source system's id of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackBody {
    pub source_id: String,
    pub kind: OrderKind,
    pub case_id: Id,
    #[serde(flatten)]
    pub step: Step,
}

/// The delay before retry number `attempts` (1 for the first retry).
pub fn backoff_ms(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(32);
    FIRST_RETRY_MS
        .saturating_mul(1u64 << doublings)
        .min(MAX_RETRY_MS)
}

/// The signature header's value for `body` sent at `at_ms` with `secret`.
pub fn sign(secret: &str, at_ms: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(at_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={at_ms},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` (an `X-Gridwork-Signature` value) signs `body` with `secret`: what a
/// receiver checks (in constant time). A receiver should also refuse a `t` far from its clock.
pub fn verify(secret: &str, header: &str, body: &str) -> Option<u64> {
    let mut at = None;
    let mut sig = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => at = v.parse::<u64>().ok(),
            Some(("v1", v)) => sig = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (at, sig) = (at?, sig?);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&sig).ok().map(|()| at)
}

/// A fresh shared secret (256 random bits, hex).
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Runs the callback task until `stop` turns true.
pub async fn run<S: Storage>(
    storage: Arc<S>,
    clock: ServerClock,
    mut stop: watch::Receiver<bool>,
    policy: Arc<CallbackPolicy>,
) {
    let http = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot make the callback client; no callbacks");
            return;
        }
    };
    let mut log = storage.subscribe();
    loop {
        // Nothing to do (and no write to the database) until some account has a callback.
        let active = match storage.list_service_accounts().await {
            Ok(accounts) => accounts.iter().any(|a| a.callback.is_some() && !a.revoked),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the service accounts; trying again");
                false
            }
        };
        if active {
            if let Err(e) = scan(&*storage, clock()).await {
                tracing::warn!(error = %e, "callback scan failed; trying again");
            }
            if let Err(e) = deliver(&*storage, &http, &clock, &policy).await {
                tracing::warn!(error = %e, "callback delivery failed; trying again");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = log.changed() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}

/// A service account by id, read once per scan page.
async fn account<'c, S: Storage>(
    storage: &S,
    cache: &'c mut HashMap<Id, Option<ServiceAccount>>,
    id: Id,
) -> Result<Option<&'c ServiceAccount>, StorageError> {
    if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(id) {
        slot.insert(storage.service_account(id).await?);
    }
    Ok(cache.get(&id).and_then(Option::as_ref))
}

/// Queues a callback for every case event stored after the cursor on a case taken in from an
/// account with a callback registered, and moves the cursor. Returns how many were queued.
pub async fn scan<S: Storage>(storage: &S, now_ms: u64) -> Result<usize, StorageError> {
    let mut queued = 0;
    loop {
        let from = storage.callback_cursor().await?;
        let page = storage.log_page(None, from, 500).await?;
        if page.entries.is_empty() && page.next <= from {
            return Ok(queued);
        }
        let mut cases: Vec<Id> = page
            .entries
            .iter()
            .filter(|e| {
                e.op.entity == EntityKind::Case && matches!(e.op.body, OpBody::CaseEvent { .. })
            })
            .map(|e| e.op.entity_id)
            .collect();
        cases.sort();
        cases.dedup();
        let orders = if cases.is_empty() {
            vec![]
        } else {
            storage.intake_orders_of_cases(cases).await?
        };
        // A work order's case is stored before its order row (`http/intake.rs`): a step of a
        // case sent by a service account whose order is not stored yet is not passed over. The
        // cursor stops before it and the scan looks again at the next tick; after `HOLD_MS` the
        // order is taken as never stored (the server stopped in between) and the step passed.
        let mut accounts = HashMap::new();
        let mut held_at = None;
        for e in &page.entries {
            let OpBody::CaseEvent { .. } = e.op.body else {
                continue;
            };
            if orders.iter().any(|o| o.case_id == e.op.entity_id)
                || now_ms.saturating_sub(e.op.stamp.hlc.physical_ms()) > HOLD_MS
            {
                continue;
            }
            if account(storage, &mut accounts, e.op.stamp.device)
                .await?
                .is_some()
            {
                held_at = Some(e.seq);
                break;
            }
        }
        let (entries, next) = match held_at {
            Some(seq) => {
                let before: Vec<_> = page.entries.iter().filter(|e| e.seq < seq).collect();
                (before, seq - 1)
            }
            None => (page.entries.iter().collect(), page.next),
        };
        let mut items = Vec::new();
        if !orders.is_empty() {
            for order in orders {
                let wanted = account(storage, &mut accounts, order.account)
                    .await?
                    .is_some_and(|a| a.callback.is_some() && !a.revoked);
                if !wanted {
                    continue;
                }
                let Some(state) = storage.record(order.case_id).await? else {
                    continue;
                };
                let Ok(case) = state.decode::<Case>() else {
                    continue;
                };
                let events = storage.case_events(vec![order.case_id]).await?;
                let kind = match OrderKind::parse(&order.kind) {
                    Some(k) => k,
                    None => continue,
                };
                let steps = timeline(case.kind, case.opened_at_ms, &events);
                let in_page: Vec<Id> = entries
                    .iter()
                    .filter_map(|e| match &e.op.body {
                        OpBody::CaseEvent { event } if event.case_id == order.case_id => {
                            Some(event.id)
                        }
                        _ => None,
                    })
                    .collect();
                for step in steps.into_iter().filter(|s| in_page.contains(&s.event_id)) {
                    let body = CallbackBody {
                        source_id: order.source_id.clone(),
                        kind,
                        case_id: order.case_id,
                        step,
                    };
                    items.push(NewCallback {
                        account: order.account,
                        event_id: body.step.event_id,
                        case_id: order.case_id,
                        body: serde_json::to_string(&body)?,
                    });
                }
            }
        }
        let n = items.len();
        if storage
            .enqueue_callbacks(from, next.max(from), items, now_ms)
            .await?
        {
            queued += n;
        }
        if !page.more || held_at.is_some() {
            return Ok(queued);
        }
    }
}

/// The client for one delivery to `url`: the shared one when the host is an address (checked
/// here), else one that connects only to the addresses the name resolved to and were checked
/// (`None`: use the shared client).
async fn pinned_client(
    policy: &CallbackPolicy,
    url: &str,
) -> Result<Option<reqwest::Client>, String> {
    let parsed = url::Url::parse(url).map_err(|_| "not a valid URL".to_string())?;
    let checked = policy.check(&parsed).await?;
    if matches!(parsed.host(), Some(url::Host::Domain(_))) {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&checked.host, &checked.addrs)
            .build()
            .map_err(|_| "cannot make the callback client".to_string())?;
        return Ok(Some(client));
    }
    Ok(None)
}

/// Sends the callbacks due now; returns how many were delivered.
pub async fn deliver<S: Storage>(
    storage: &S,
    http: &reqwest::Client,
    clock: &ServerClock,
    policy: &CallbackPolicy,
) -> Result<usize, StorageError> {
    let mut delivered = 0;
    loop {
        let due = storage.claim_callbacks(clock(), LEASE_MS, 20).await?;
        if due.is_empty() {
            return Ok(delivered);
        }
        for cb in due {
            let Some(target) = cb.target else {
                storage
                    .callback_failed(cb.id, None, "no callback registered any more".into())
                    .await?;
                continue;
            };
            // Checked again now, after resolving the name, and sent to the address checked.
            let pinned = match pinned_client(policy, &target.url).await {
                Ok(client) => client,
                Err(why) => {
                    let attempts = cb.attempts + 1;
                    let next = (attempts < MAX_ATTEMPTS)
                        .then(|| clock().saturating_add(backoff_ms(attempts)));
                    tracing::warn!(
                        callback = cb.id,
                        account = %cb.account,
                        error = %why,
                        "callback refused: not sent"
                    );
                    storage
                        .callback_failed(cb.id, next, format!("refused: {why}"))
                        .await?;
                    continue;
                }
            };
            let http = pinned.as_ref().unwrap_or(http);
            let at = clock();
            let outcome = http
                .post(&target.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, sign(&target.secret, at, &cb.body))
                .header(IDEMPOTENCY_HEADER, cb.event_id.to_string())
                .body(cb.body.clone())
                .send()
                .await;
            let failure = match outcome {
                Ok(res) if res.status().is_success() => None,
                Ok(res) => Some(format!("answered {}", res.status().as_u16())),
                // The error names the URL, which the account gave; no personal data.
                Err(e) => Some(if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "could not connect".to_string()
                } else {
                    "the connection failed".to_string()
                }),
            };
            match failure {
                None => {
                    storage.callback_delivered(cb.id, clock()).await?;
                    delivered += 1;
                }
                Some(why) => {
                    let attempts = cb.attempts + 1;
                    let next = (attempts < MAX_ATTEMPTS)
                        .then(|| clock().saturating_add(backoff_ms(attempts)));
                    tracing::info!(
                        callback = cb.id,
                        account = %cb.account,
                        attempts,
                        error = %why,
                        "callback not delivered; will retry"
                    );
                    storage.callback_failed(cb.id, next, why).await?;
                }
            }
        }
    }
}

impl OrderKind {
    /// Parses [`OrderKind::as_str`].
    pub fn parse(s: &str) -> Option<OrderKind> {
        [
            OrderKind::Hotline12345,
            OrderKind::Police110,
            OrderKind::Event,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_body() {
        let header = sign("whsec_a", 1_795_000_000_000, "{\"x\":1}");
        assert_eq!(
            verify("whsec_a", &header, "{\"x\":1}"),
            Some(1_795_000_000_000)
        );
        assert_eq!(verify("whsec_b", &header, "{\"x\":1}"), None);
        assert_eq!(verify("whsec_a", &header, "{\"x\":2}"), None);
        assert_eq!(verify("whsec_a", "t=1,v1=zz", "{}"), None);
    }

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        assert_eq!(backoff_ms(1), FIRST_RETRY_MS);
        assert_eq!(backoff_ms(2), 2 * FIRST_RETRY_MS);
        assert_eq!(backoff_ms(3), 4 * FIRST_RETRY_MS);
        assert_eq!(backoff_ms(40), MAX_RETRY_MS);
        assert_ne!(new_secret(), new_secret());
    }
}
