//! The sync engine: a sequence of named steps over a [`Transport`].
//!
//! `sync_now` = bootstrap (a new device: snapshot pages) → push the outbox in size-capped
//! batches → mark accepted / quarantine rejected → pull pages → apply each page and move the
//! cursor in ONE transaction. Every step commits what it finished, so a run cut off at any
//! point (dropped connection, killed app) resumes where it stopped and applies nothing twice.

use std::sync::Arc;
use std::time::Instant;

use gridwork_domain::hlc::HlcClock;
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::op::EntityKind;
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::{
    EnrollRequest, EnrollResponse, MAX_PULL_LIMIT, MAX_PUSH_OPS, MAX_SNAPSHOT_LIMIT, PushOutcome,
    PushRequest, RejectCode, UserScope,
};
use gridwork_domain::workflow::CaseEvent;
use rand::Rng;
use rusqlite::Transaction;

use crate::error::Error;
use crate::gridwork::Gridwork;
use crate::store::search_index::{self, SearchRow};
use crate::store::{bulk, meta, outbox, records};
use crate::sync::backoff::RetryPolicy;
use crate::sync::rescope;
use crate::sync::state::{SyncObserver, SyncProgress, SyncReport, SyncState, SyncStep};
use crate::sync::transport::{Transport, TransportError};

/// Pushes carry at most this many bytes of operations (besides [`MAX_PUSH_OPS`]).
pub const MAX_PUSH_BYTES: usize = 1 << 20;

/// How often one push step may restamp changes refused as `clock_ahead` (a server whose own
/// clock disagrees with what it reports must not make a device loop).
const MAX_RESTAMPS_PER_RUN: u32 = 2;

/// Why a sync run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] Error),
    /// The device has not enrolled yet.
    #[error("this device is not enrolled: enroll it with a one-time code first")]
    NotEnrolled,
}

impl SyncError {
    /// The error's stable code: the transport's or the store's, or `not_enrolled`.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Transport(t) => t.code(),
            SyncError::Store(e) => e.code(),
            SyncError::NotEnrolled => "not_enrolled",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SyncError::Transport(t) if t.is_retryable())
    }
}

impl Gridwork {
    /// Enrolls this device with a one-time code from the administrator; stores the token and
    /// the user's role and scope.
    pub async fn enroll<T: Transport>(
        &self,
        transport: &T,
        code: &str,
        device_name: &str,
    ) -> Result<EnrollResponse, SyncError> {
        let req = EnrollRequest {
            code: code.trim().to_string(),
            device_id: self.device_id(),
            device_name: device_name.to_string(),
        };
        let resp = transport.enroll(&req).await?.value;
        self.with_tx(|tx, clock, wall| {
            clock.learn_server_time(resp.server_time_ms, wall);
            meta::set(tx, meta::TOKEN, &resp.token)?;
            meta::set(tx, meta::USER_ID, &resp.user_id.to_string())?;
            save_scope(
                tx,
                &UserScope {
                    role: resp.role,
                    scope: resp.scope.clone(),
                    anchors: resp.anchors.clone(),
                },
            )
        })?;
        transport.set_token(Some(resp.token.clone()));
        Ok(resp)
    }

    /// The bearer token stored at enrollment.
    pub fn token(&self) -> Result<Option<String>, Error> {
        self.query(|c| meta::get(c, meta::TOKEN))
    }

    /// The current sync state.
    pub fn sync_state(&self) -> SyncState {
        self.sync.state()
    }

    /// Registers an observer of sync state and progress.
    pub fn add_sync_observer(&self, observer: Arc<dyn SyncObserver>) {
        self.sync.add_observer(observer);
    }

    /// The app reports the network coming and going. While offline, changes queue (see
    /// [`Gridwork::pending_count`]) and no request is attempted.
    ///
    /// A run under way when the network goes is not stopped here (the caller drops its future:
    /// the bindings do); a run started while offline fails at once with
    /// [`TransportError::Unreachable`] and sends nothing.
    pub fn set_online(&self, online: bool) {
        self.sync.set_offline(!online);
        match (online, self.sync.state()) {
            (false, _) => self.sync.set(SyncState::Offline),
            (true, SyncState::Offline) => self.sync.set(SyncState::Idle),
            _ => {}
        }
    }

    /// Whether the app reported the network gone.
    pub fn is_offline(&self) -> bool {
        self.sync.is_offline()
    }

    /// One full sync run: bootstrap if new, push everything, pull everything.
    pub async fn sync_now<T: Transport>(&self, transport: &T) -> Result<SyncReport, SyncError> {
        if self.token()?.is_none() {
            return Err(SyncError::NotEnrolled);
        }
        if self.sync.is_offline() {
            return Err(SyncError::Transport(TransportError::Unreachable(
                "the app reported no network".into(),
            )));
        }
        let started = Instant::now();
        // The attachment lane sends no new chunk until this run ends (ADR 0053).
        let _ops = self.lane.ops_running();
        tracing::debug!(device = %self.device_id(), "sync started");
        self.sync.set(SyncState::Syncing);
        // A run dropped before its end (the caller cancelled it, the app went offline) leaves
        // the state true: idle, or offline when the app said so, never `Syncing`.
        let mut running = RunGuard {
            gw: self,
            finished: false,
        };
        let mut report = SyncReport::default();
        let result = self.run_steps(transport, &mut report).await;
        running.finished = true;
        report.duration_ms = started.elapsed().as_millis() as u64;
        // Every message of the core's errors is free of stored values (see `crate::error`), so
        // it can be shown in the app's status line and logged as it is.
        match &result {
            Ok(()) => {
                tracing::debug!(
                    pushed = report.pushed,
                    rejected = report.rejected,
                    snapshot_records = report.snapshot_records,
                    pulled = report.pulled,
                    refused = report.refused,
                    conflicts = report.conflicts,
                    bytes = report.bytes,
                    duration_ms = report.duration_ms,
                    "sync finished"
                );
                self.sync.set(self.sync.resting())
            }
            Err(SyncError::Transport(TransportError::Unreachable(_))) => {
                tracing::debug!("sync: the server is unreachable, changes stay queued");
                self.sync.set(SyncState::Offline)
            }
            Err(e) => {
                tracing::warn!(error = %e, "sync failed");
                self.sync.set(SyncState::Error {
                    message: e.to_string(),
                })
            }
        }
        result.map(|()| report)
    }

    /// [`Gridwork::sync_now`], retried with exponential backoff and jitter while the failure is
    /// one that may pass (no network, server overloaded); a server that says how long to wait
    /// (429 with `Retry-After`) is waited for at least that long.
    pub async fn sync_with_retry<T: Transport>(
        &self,
        transport: &T,
        policy: RetryPolicy,
    ) -> Result<SyncReport, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.sync_now(transport).await {
                Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                    let unit: f64 = rand::rng().random();
                    let asked = match &e {
                        SyncError::Transport(t) => t.retry_after(),
                        _ => None,
                    };
                    tokio::time::sleep(policy.delay_after(attempt, unit, asked)).await;
                }
                other => return other,
            }
        }
    }

    /// The live wait: one long poll of up to `wait_s` seconds (≤ 30) that returns as soon as
    /// something for this device arrives, applied before returning. Returns the operations
    /// applied.
    pub async fn wait_for_changes<T: Transport>(
        &self,
        transport: &T,
        wait_s: u64,
    ) -> Result<SyncReport, SyncError> {
        let mut report = SyncReport::default();
        if self.query(|c| meta::get(c, meta::CURSOR))?.is_none() {
            self.bootstrap(transport, &mut report).await?;
        }
        self.pull(transport, &mut report, wait_s).await?;
        Ok(report)
    }

    async fn run_steps<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        if self.query(|c| meta::get(c, meta::CURSOR))?.is_none() {
            self.bootstrap(transport, report).await?;
        }
        self.push(transport, report).await?;
        // What this device showed or exported, for the server's audit log. Housekeeping: a
        // failure leaves the facts queued for the next run.
        if let Err(e) = self.report_access(transport).await {
            tracing::debug!(error = %e, "audit facts not sent; they stay queued");
        }
        self.pull(transport, report, 0).await?;
        // A snapshot or a gain may have brought back stays past retention.
        report.evicted += self.purge_expired_tenants()?;
        // Blob files nothing names any more (ADR 0045): at once when records left the phone,
        // else now and then (a photo removed by another phone arrives by pull). Housekeeping:
        // a failure is logged, the next run tries again.
        if self.lane.vault.is_some() {
            let now = self.wall_ms();
            let last = self
                .lane
                .last_sweep_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let due = report.evicted > 0
                || report.reverted > 0
                || last == 0
                || now.saturating_sub(last) >= crate::attachments::sweep::SWEEP_EVERY_MS;
            if due {
                match self.sweep_attachments() {
                    Ok(r) if !r.busy => self
                        .lane
                        .last_sweep_ms
                        .store(now.max(1), std::sync::atomic::Ordering::Relaxed),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "attachments not swept after sync"),
                }
            }
        }
        // Index what the run brought while the phone is online and waiting anyway, so the
        // next search does not pay for it. Housekeeping: a failure is logged, not the run's
        // (the next search tries again).
        if let Err(e) = self.refresh_search() {
            tracing::warn!(error = %e, "search index not brought up to date after sync");
        }
        Ok(())
    }

    /// Step: a new device takes the current state of its scope, page by page. Each page and
    /// the position reached are committed together, so an interrupted bootstrap resumes.
    ///
    /// The next page is asked for before this one is applied, so the server prepares and sends
    /// it while the device writes (a subdistrict is hundreds of pages; the two halves of the
    /// work overlap instead of taking turns).
    async fn bootstrap<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let (after, mut total, done_before) = self.query(|c| {
            let number = |key| -> Result<Option<u64>, crate::Error> {
                Ok(meta::get(c, key)?.and_then(|v| v.parse().ok()))
            };
            Ok((
                meta::get(c, meta::SNAPSHOT_AFTER)?.and_then(|a| a.parse::<Id>().ok()),
                number(meta::SNAPSHOT_TOTAL)?,
                number(meta::SNAPSHOT_DONE)?.unwrap_or(0),
            ))
        })?;
        // One long write: the checkpointer copies the log less often until it ends, however it
        // ends (ADR 0037).
        self.set_bulk_checkpoints(true);
        let _tuned = BulkCheckpoints(self);
        let mut fetched = transport.snapshot(after, MAX_SNAPSHOT_LIMIT).await?;
        loop {
            report.bytes += fetched.bytes;
            let page = fetched.value;
            let next = page.next_after;
            // The first page of a server that counts announces the total (an upper bound:
            // pages skip what the reader may not see).
            let announced = page.total_records.filter(|_| total.is_none());
            total = total.or(page.total_records);
            let done = done_before + report.snapshot_records + page.records.len() as u64;
            tracing::trace!(
                records = page.records.len(),
                events = page.events.len(),
                seq = page.seq,
                "bootstrap page"
            );
            let prefetch = async {
                match next {
                    Some(n) => Some(transport.snapshot(Some(n), MAX_SNAPSHOT_LIMIT).await),
                    None => None,
                }
            };
            let apply = async {
                self.with_tx(|tx, clock, wall| {
                    clock.learn_server_time(page.server_time_ms, wall);
                    // The bootstrap's own write path (ADR 0037), on from its first page until
                    // its last, across runs when it is cut off.
                    let from = bulk::begin(tx)?;
                    absorb(tx, clock, wall, &page.records, &page.events, Some(from))?;
                    if meta::get(tx, meta::SNAPSHOT_SEQ)?.is_none() {
                        meta::set(tx, meta::SNAPSHOT_SEQ, &page.seq.to_string())?;
                    }
                    if let Some(announced) = announced {
                        meta::set(tx, meta::SNAPSHOT_TOTAL, &announced.to_string())?;
                    }
                    match next {
                        Some(next) => {
                            meta::set(tx, meta::SNAPSHOT_AFTER, &next.to_string())?;
                            meta::set(tx, meta::SNAPSHOT_DONE, &done.to_string())?;
                        }
                        None => {
                            let seq = meta::get(tx, meta::SNAPSHOT_SEQ)?.unwrap_or_default();
                            meta::set(tx, meta::CURSOR, &seq)?;
                            meta::delete(tx, meta::SNAPSHOT_SEQ)?;
                            meta::delete(tx, meta::SNAPSHOT_AFTER)?;
                            meta::delete(tx, meta::SNAPSHOT_TOTAL)?;
                            meta::delete(tx, meta::SNAPSHOT_DONE)?;
                            // The records it brought are indexed for search in one pass.
                            bulk::finish(tx)?;
                        }
                    }
                    Ok(())
                })
            };
            // The request goes out first; the page is written while the answer is on its way.
            let (prefetched, applied) = tokio::join!(prefetch, apply);
            applied?;
            report.snapshot_records += page.records.len() as u64;
            // A page is up to two thousand records of maps and strings: freed on a thread of the
            // runtime's pool rather than this one, which goes on to the next page (4 % of the
            // phone's time in a subdistrict's bootstrap).
            drop(tokio::task::spawn_blocking(move || drop(page)));
            self.sync.progress(SyncProgress {
                step: SyncStep::Bootstrap,
                done,
                // Never below what was taken; the last page completes the bar.
                total: match next {
                    Some(_) => total.map(|t| t.max(done)),
                    None => Some(done),
                },
            });
            match prefetched {
                Some(answer) => fetched = answer?,
                None => return Ok(()),
            }
        }
    }

    /// Step: push the outbox oldest first, in batches capped by count and bytes; mark what the
    /// server accepted and quarantine what it rejected, per batch, in one transaction.
    async fn push<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        // Stamps refused as too far ahead in an earlier run are replaced first (ADR 0011).
        report.restamped += self.restamp_stamped_ahead()?;
        let me = self.device_id();
        let total = self.pending_count()?;
        // One run pushes what was queued when it started, then returns: changes made while it
        // runs wait for the next run, so a phone whose user keeps writing still finishes.
        let mut last = self.query(outbox::last_pending_seq)?;
        let mut recoveries = 0;
        loop {
            let mut batch = Vec::new();
            let mut size = 0;
            let queued = self.pending_ops(MAX_PUSH_OPS)?;
            for entry in queued.into_iter().take_while(|e| Some(e.seq) <= last) {
                size += serde_json::to_vec(&entry.op).map_err(Error::from)?.len();
                if !batch.is_empty() && size > MAX_PUSH_BYTES {
                    break;
                }
                batch.push(entry.op);
            }
            if batch.is_empty() {
                return Ok(());
            }
            let sent = batch.len();
            tracing::trace!(ops = sent, bytes = size, "push batch");
            transport.set_unsynced(self.pending_count()?);
            let resp = transport.push(&PushRequest { ops: batch }).await?;
            report.bytes += resp.bytes;
            let resp = resp.value;
            let settled = self.with_tx(|tx, clock, wall| {
                clock.learn_server_time(resp.server_time_ms, wall);
                let mut accepted = Vec::new();
                for r in &resp.results {
                    match &r.outcome {
                        PushOutcome::Accepted { .. } | PushOutcome::Duplicate { .. } => {
                            accepted.push(r.op_id)
                        }
                        PushOutcome::Rejected { code, message } => {
                            let code = serde_json::to_value(code)?;
                            tracing::debug!(op = %r.op_id, code = %code, "operation rejected");
                            let reason =
                                format!("{}: {message}", code.as_str().unwrap_or("rejected"));
                            outbox::mark_rejected(tx, r.op_id, &reason)?;
                            report.rejected += 1;
                        }
                    }
                }
                if let Some(highest) = outbox::mark_accepted(tx, &accepted)? {
                    clock.trust(highest);
                }
                // The records changes were refused on go back to what the server holds (this
                // device's changes still waiting go on top again): the phone shows what the
                // command centre sees, and the refused change waits in the refused list.
                report.reverted += revert_to_server(
                    tx,
                    clock,
                    wall,
                    me,
                    &resp.records,
                    &resp.events,
                    &resp.evict,
                )?;
                report.pushed += accepted.len() as u64;
                Ok(resp.results.len())
            })?;
            self.sync.progress(SyncProgress {
                step: SyncStep::Push,
                done: report.pushed + report.rejected,
                total: Some(total),
            });
            let clock_ahead = resp
                .results
                .iter()
                .filter(|r| {
                    matches!(&r.outcome, PushOutcome::Rejected { code, .. }
                        if *code == RejectCode::ClockAhead)
                })
                .count() as u64;
            if clock_ahead > 0 && recoveries < MAX_RESTAMPS_PER_RUN {
                // This answer carried the server's time: stamp the refused changes again with
                // the corrected clock and push them in this same run.
                recoveries += 1;
                report.restamped += self.restamp_stamped_ahead()?;
                report.rejected -= clock_ahead;
                // Restamped changes go to the end of the queue: they belong to this run.
                last = self.query(outbox::last_pending_seq)?;
            }
            if settled < sent {
                // The server answered for fewer operations than sent; the rest stay queued for
                // the next run rather than looping here.
                return Ok(());
            }
        }
    }

    /// Step: pull pages after the cursor; each page is applied and the cursor moved in one
    /// transaction. `wait_s > 0` makes the first request a long poll.
    async fn pull<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
        wait_s: u64,
    ) -> Result<(), SyncError> {
        let me = self.device_id();
        let mut wait = wait_s;
        let mut ops = None;
        loop {
            let cursor: u64 = self
                .query(|c| meta::get(c, meta::CURSOR))?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            // What is still waiting after the push, for the command centre's list of phones.
            transport.set_unsynced(self.pending_count()?);
            let page = transport.pull(cursor, MAX_PULL_LIMIT, wait).await?;
            // A page arrived (a long poll's alarm): the attachment lane waits while it is
            // applied and the next pages fetched (ADR 0053). Not held while a long poll waits.
            ops.get_or_insert_with(|| self.lane.ops_running());
            wait = 0;
            report.bytes += page.bytes;
            let page = page.value;
            tracing::trace!(
                after = cursor,
                ops = page.ops.len(),
                next = page.next,
                more = page.more,
                "pull page"
            );
            let rescope = self.with_tx(|tx, clock, wall| {
                clock.learn_server_time(page.server_time_ms, wall);
                let now = clock.corrected_ms(wall);
                for s in &page.ops {
                    if clock.observe(s.op.stamp.hlc, wall).is_err() {
                        tracing::debug!(op = %s.op.id, "operation refused: stamped too far ahead");
                        // A stamp too far ahead would win every conflict: refuse it here too.
                        report.refused += 1;
                        continue;
                    }
                    let applied = records::apply_op(tx, &s.op, me, now)?;
                    report.conflicts += applied.conflicts as u64;
                }
                // Records that entered the scope, whole; then those that left it. The server
                // decides both on current places, so no id is in both.
                absorb(tx, clock, wall, &page.records, &page.events, None)?;
                report.gained += page.records.len() as u64;
                for id in &page.evict {
                    report.evicted += u64::from(records::purge(tx, *id)?);
                }
                meta::set(tx, meta::CURSOR, &page.next.max(cursor).to_string())?;
                // A role or scope other than the one held means an administrator changed it:
                // take a new snapshot (the new scope is saved once that is done).
                let held = meta::get(tx, meta::SCOPE_DIGEST)?;
                Ok(match &page.user {
                    Some(user) => {
                        let digest = ScopeView::digest(user.role, &user.scope, &user.anchors);
                        match held {
                            Some(held) if held == digest => {
                                // A store from before anchors were kept learns them now.
                                if meta::get(tx, meta::ANCHORS)?.is_none() {
                                    save_scope(tx, user)?;
                                }
                                None
                            }
                            Some(_) => Some(user.clone()),
                            None => {
                                save_scope(tx, user)?;
                                None
                            }
                        }
                    }
                    None => None,
                })
            })?;
            report.pulled += page.ops.len() as u64;
            if let Some(user) = rescope {
                self.rescope(transport, report, &user).await?;
                continue;
            }
            self.sync.progress(SyncProgress {
                step: SyncStep::Pull,
                done: report.pulled,
                total: None,
            });
            if !page.more {
                return Ok(());
            }
        }
    }

    /// The user's scope was changed: fetch what the new scope adds, purge what it no longer
    /// covers, and remember the new scope, the purge and the scope in one transaction
    /// (`super::rescope` says what is fetched and purged). Entries added to the scope are
    /// fetched alone (a snapshot restricted to them); entries kept are fetched again only when
    /// one of them moved to another area path; a new role takes the whole snapshot again.
    /// Interrupted, it starts over at the next sync (the old scope is still stored). The outbox
    /// is not touched; the cursor stays where it is (what lies between it and the snapshot is
    /// pulled again, which merging makes harmless).
    async fn rescope<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
        user: &UserScope,
    ) -> Result<(), SyncError> {
        let new = ScopeView::new(user.role, user.scope.clone(), user.anchors.clone());
        let old = self.query(crate::permissions::scope_view)?;
        let mut fetched = std::collections::HashSet::new();
        let old = match (rescope::plan(old.as_ref(), &new), old) {
            (rescope::Plan::Gained(gained), Some(old)) => {
                if !gained.is_empty() {
                    self.fetch_scope(transport, report, Some(&gained), &mut fetched)
                        .await?;
                }
                let gained_anchors = self.query(|c| rescope::anchors_of(c, &gained))?;
                let kept = rescope::kept(&old, &new);
                if !kept.is_empty() && rescope::kept_entries_moved(&old, &new, &gained_anchors) {
                    self.fetch_scope(transport, report, Some(&kept), &mut fetched)
                        .await?;
                }
                Some(old)
            }
            _ => {
                self.fetch_scope(transport, report, None, &mut fetched)
                    .await?;
                None
            }
        };
        self.with_tx(|tx, _, _| {
            let gone = match &old {
                Some(old) => rescope::to_purge(tx, old, &new, &fetched)?,
                // The whole scope was fetched: whatever it did not hold goes.
                None => records::all_ids(tx)?
                    .into_iter()
                    .filter(|id| !fetched.contains(id))
                    .collect(),
            };
            for id in gone {
                report.evicted += u64::from(records::purge(tx, id)?);
            }
            save_scope(tx, user)
        })?;
        Ok(())
    }

    /// Snapshot pages of the user's scope, restricted to `entries` when given, each absorbed in
    /// its own transaction; the ids received are added to `fetched`.
    async fn fetch_scope<T: Transport>(
        &self,
        transport: &T,
        report: &mut SyncReport,
        entries: Option<&[Id]>,
        fetched: &mut std::collections::HashSet<Id>,
    ) -> Result<(), SyncError> {
        let mut after = None;
        loop {
            let page = match entries {
                Some(entries) => {
                    transport
                        .snapshot_of(after, MAX_SNAPSHOT_LIMIT, entries)
                        .await?
                }
                None => transport.snapshot(after, MAX_SNAPSHOT_LIMIT).await?,
            };
            report.bytes += page.bytes;
            let page = page.value;
            self.with_tx(|tx, clock, wall| {
                clock.learn_server_time(page.server_time_ms, wall);
                absorb(tx, clock, wall, &page.records, &page.events, None)
            })?;
            fetched.extend(page.records.iter().map(|r| r.id));
            report.snapshot_records += page.records.len() as u64;
            self.sync.progress(SyncProgress {
                step: SyncStep::Bootstrap,
                done: report.snapshot_records,
                total: None,
            });
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// Puts the checkpointer back to a phone's thresholds when a bootstrap ends, however it ends.
struct BulkCheckpoints<'a>(&'a Gridwork);

impl Drop for BulkCheckpoints<'_> {
    fn drop(&mut self) {
        self.0.set_bulk_checkpoints(false);
    }
}

/// Puts the sync state back to a true value when a run is dropped before its end.
struct RunGuard<'a> {
    gw: &'a Gridwork,
    finished: bool,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            tracing::debug!("sync run cancelled before its end; what it finished is kept");
            self.gw.sync.set(self.gw.sync.resting());
        }
    }
}

/// Merges whole records (a snapshot page, or records that entered the scope) and their cases'
/// events into the store, observing their stamps, and refolds the cases touched.
///
/// `bulk` is the first row id of a bootstrap's write path (`store::bulk`, ADR 0037): a record
/// the store does not hold is then inserted as it came, with no lookup and no search mark.
fn absorb(
    tx: &Transaction<'_>,
    clock: &mut HlcClock,
    wall: u64,
    incoming: &[RecordState],
    events: &[CaseEvent],
    bulk: Option<i64>,
) -> Result<(), Error> {
    let mut cases = Vec::new();
    let mut seen = |record: &RecordState, clock: &mut HlcClock| {
        if let Some(s) = record.latest_stamp() {
            let _ = clock.observe(s.hlc, wall);
        }
        if record.kind == EntityKind::Case {
            cases.push(record.id);
        }
    };
    for record in incoming {
        if let Some(from) = bulk {
            // Absorbed into nothing, a record whose every field has its stamp is itself: it is
            // written as it came, without a copy (the rest keep only their stamped fields).
            let absorbed;
            let state = if record.fields.len() == record.stamps.len()
                && record.stamps.keys().all(|k| record.fields.contains_key(k))
            {
                record
            } else {
                let mut state = RecordState::new(record.kind, record.id);
                state.absorb(record);
                absorbed = state;
                &absorbed
            };
            if let Some(rid) = records::insert_new(tx, state)? {
                if rid < from {
                    // A row id below the bootstrap's first (one freed meanwhile) is not
                    // covered by its search pass: marked as any write.
                    search_index::refresh(tx, rid, SearchRow::Changed)?;
                }
                seen(record, clock);
                continue;
            }
        }
        let held = records::load_held(tx, record.id)?;
        let rid = held.as_ref().map(|(rid, _)| *rid);
        let mut state = held
            .map(|(_, s)| s)
            .unwrap_or_else(|| RecordState::new(record.kind, record.id));
        if state.kind != record.kind {
            continue;
        }
        if state.absorb(record) {
            records::save_held(tx, rid, &state, SearchRow::Changed)?;
        }
        seen(record, clock);
    }
    for event in events {
        records::insert_case_event(tx, event)?;
        cases.push(event.case_id);
    }
    cases.sort();
    cases.dedup();
    for case in cases {
        records::refold_case(tx, case)?;
    }
    Ok(())
}

/// Puts the records the server sent back after refusing changes to them (`records`, with their
/// cases' `events`; `evict`: those this user may not see or the server does not hold) in place
/// of this device's copies, then applies this device's changes to them still waiting in the
/// outbox on top, oldest first. Refused changes are not applied: they wait in the refused list
/// (`crate::refused`). Returns the records put back.
pub(crate) fn revert_to_server(
    tx: &Transaction<'_>,
    clock: &mut HlcClock,
    wall: u64,
    me: gridwork_domain::ids::DeviceId,
    records: &[RecordState],
    events: &[CaseEvent],
    evict: &[Id],
) -> Result<u64, Error> {
    let ids: Vec<Id> = records
        .iter()
        .map(|r| r.id)
        .chain(evict.iter().copied())
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    for id in &ids {
        records::purge(tx, *id)?;
    }
    absorb(tx, clock, wall, records, events, None)?;
    let now = clock.corrected_ms(wall);
    for id in &ids {
        for entry in outbox::pending_for(tx, *id)? {
            records::apply_op(tx, &entry.op, me, now)?;
        }
    }
    Ok(ids.len() as u64)
}

/// Stores the user's role and scope and their digest.
fn save_scope(tx: &Transaction<'_>, user: &UserScope) -> Result<(), Error> {
    meta::set(tx, meta::ROLE, user.role.as_str())?;
    meta::set(tx, meta::SCOPE, &serde_json::to_string(&user.scope)?)?;
    meta::set(tx, meta::ANCHORS, &serde_json::to_string(&user.anchors)?)?;
    meta::set(
        tx,
        meta::SCOPE_DIGEST,
        &ScopeView::digest(user.role, &user.scope, &user.anchors),
    )
}
