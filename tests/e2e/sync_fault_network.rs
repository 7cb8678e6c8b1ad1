//! Three phones sync through the fault-injecting proxy ([`crate::fault_proxy`]) while they
//! work: requests and answers dropped, delayed, duplicated (answers: a stale earlier answer
//! replayed), truncated and reordered, each kind in both directions. Once the network is clean
//! again they converge, every edit made on any phone is there, and the server holds every
//! operation exactly once and never acted on half a request.
//!
//! `GRIDWORK_LONG_FAULTS=1` runs ten times as many rounds; `GRIDWORK_FAULT_SEED=N` picks
//! another schedule.

use std::collections::{BTreeMap, BTreeSet};

use gridwork_core::HttpTransport;
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::op::OpBody;
use gridwork_domain::workflow::CaseAction;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fault_proxy::{Fault, FaultProxy};
use crate::harness::*;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// One phone at work: what it made, to check against at the end.
struct Worker {
    index: usize,
    device: Device,
    /// Its transport through the proxy.
    via: HttpTransport,
    rng: StdRng,
    counter: u64,
    /// Households only this phone edits (so the last value it wrote must win).
    households: Vec<Id>,
    phones: BTreeMap<Id, String>,
    created: Vec<Id>,
    cases: Vec<Id>,
    /// Every operation it made, by id (read from its outbox before each sync).
    made: BTreeSet<Id>,
    syncs: u64,
    failed_syncs: u64,
}

impl Worker {
    /// A few edits, then a sync through the faulty network.
    async fn round(&mut self, buildings: &[Building]) {
        for _ in 0..self.rng.random_range(1..=3) {
            self.counter += 1;
            let building = &buildings[self.rng.random_range(0..buildings.len())];
            let gw = &self.device.gw;
            match self.rng.random_range(0..4) {
                0 if !self.households.is_empty() => {
                    let h = self.households[self.rng.random_range(0..self.households.len())];
                    let phone = format!("13{}{:08}", self.index, self.counter);
                    gw.update::<Household>(h, |x| x.phone = Some(phone.clone()))
                        .unwrap();
                    self.phones.insert(h, phone);
                }
                0 | 1 => {
                    let h = gw
                        .create(Household {
                            id: Id::nil(),
                            building_id: building.id,
                            unit: format!("{}-{}", self.index, self.counter),
                            kind: HouseholdKind::Rental,
                            phone: None,
                            archived: false,
                        })
                        .unwrap();
                    self.created.push(h.id);
                    self.households.push(h.id);
                }
                2 => {
                    let case = gw
                        .open_case(Case {
                            id: Id::nil(),
                            kind: CaseKind::Hazard,
                            title: "楼道堵塞".into(),
                            category: "fire".into(),
                            severity: Severity::Medium,
                            area_id: building.grid_id,
                            building_id: Some(building.id),
                            household_id: None,
                            position: None,
                            opened_at_ms: 0,
                            patrol_id: None,
                        })
                        .unwrap();
                    self.cases.push(case.case.id);
                }
                _ if !self.cases.is_empty() => {
                    let case = self.cases[self.rng.random_range(0..self.cases.len())];
                    gw.record_case_event(
                        case,
                        CaseAction::Note {
                            text: format!("复查 {}", self.counter),
                        },
                    )
                    .unwrap();
                }
                _ => {}
            }
        }
        self.note_outbox();
        self.syncs += 1;
        if self.device.gw.sync_now(&self.via).await.is_err() {
            self.failed_syncs += 1;
        }
    }

    fn note_outbox(&mut self) {
        for e in self.device.gw.pending_ops(usize::MAX >> 1).unwrap() {
            self.made.insert(e.op.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_syncing_through_a_faulty_network_converge_with_nothing_lost_or_applied_twice() {
    let long = std::env::var("GRIDWORK_LONG_FAULTS").is_ok_and(|v| v == "1");
    let rounds = if long { 500 } else { 50 };
    let seed = env_u64("GRIDWORK_FAULT_SEED").unwrap_or(0x6e65_7477);

    let server = TestServer::start().await;
    let (centre, seeded) = seeded_admin(&server, "陈静").await;
    let before: BTreeSet<Id> = server_log(&centre.net)
        .await
        .iter()
        .map(|s| s.op.id)
        .collect();
    let proxy = FaultProxy::start(&server.url(), seed, 0.5).await;

    let mut workers = Vec::new();
    for (index, name) in ["王芳", "李娜", "张伟"].into_iter().enumerate() {
        let device = Device::admin(&server, name, 0).await;
        device.sync().await;
        let via = HttpTransport::new(&proxy.url(), device.gw.token().unwrap()).unwrap();
        workers.push(Worker {
            index,
            device,
            via,
            rng: StdRng::seed_from_u64(seed + index as u64),
            counter: 0,
            households: seeded
                .households
                .iter()
                .skip(index)
                .step_by(3)
                .map(|h| h.id)
                .collect(),
            phones: BTreeMap::new(),
            created: Vec::new(),
            cases: Vec::new(),
            made: BTreeSet::new(),
            syncs: 0,
            failed_syncs: 0,
        });
    }

    let buildings = &seeded.buildings;
    for _ in 0..rounds {
        let [a, b, c] = &mut workers[..] else {
            unreachable!("three phones")
        };
        tokio::join!(a.round(buildings), b.round(buildings), c.round(buildings));
    }

    // The network heals: a clean sync or two and everyone is level.
    proxy.set_faults(false);
    let faults = proxy.counts();
    for w in &mut workers {
        w.note_outbox();
    }
    for _ in 0..2 {
        for w in &workers {
            w.device.gw.sync_now(&w.via).await.unwrap();
        }
    }
    centre.sync().await;

    // Converged.
    let digest = centre.gw.state_digest().unwrap();
    for w in &workers {
        assert_eq!(
            w.device.gw.state_digest().unwrap(),
            digest,
            "phone {}",
            w.index
        );
        assert_eq!(w.device.gw.pending_count().unwrap(), 0);
        assert!(w.device.gw.rejected_ops().unwrap().is_empty());
    }

    // Nothing applied twice: the log holds each operation once, each case event once, and
    // exactly the operations the phones made.
    let log = server_log(&centre.net).await;
    let ids: Vec<Id> = log.iter().map(|s| s.op.id).collect();
    let distinct: BTreeSet<Id> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "an operation stored twice");
    let made: BTreeSet<Id> = workers
        .iter()
        .flat_map(|w| w.made.iter().copied())
        .collect();
    let stored: BTreeSet<Id> = distinct.difference(&before).copied().collect();
    assert_eq!(stored, made, "the log holds exactly what the phones made");
    let mut events = BTreeMap::<Id, usize>::new();
    for s in &log {
        if let OpBody::CaseEvent { event } = &s.op.body {
            *events.entry(event.id).or_default() += 1;
        }
    }
    assert!(
        events.values().all(|n| *n == 1),
        "a case event stored twice"
    );

    // Nothing lost: every phone holds every edit any phone made.
    let mut edits = 0;
    for w in &workers {
        for d in std::iter::once(&centre).chain(workers.iter().map(|w| &w.device)) {
            for (h, phone) in &w.phones {
                assert_eq!(
                    d.gw.get::<Household>(*h).unwrap().phone.as_ref(),
                    Some(phone)
                );
            }
            for h in &w.created {
                d.gw.get::<Household>(*h).unwrap();
            }
            for case in &w.cases {
                let timeline = d.gw.case_timeline(*case).unwrap();
                let ids: BTreeSet<Id> = timeline.iter().map(|e| e.event.id).collect();
                assert_eq!(ids.len(), timeline.len(), "an event shown twice");
            }
        }
        edits += w.phones.len() + w.created.len() + w.cases.len();
    }
    let event_ops = events.len();
    for fault in Fault::ALL {
        assert!(
            faults.get(fault) > 0,
            "no {} fault was injected: {faults}",
            fault.name()
        );
    }
    assert_eq!(
        faults.truncated_requests_served, 0,
        "the server answered a truncated request with a success"
    );
    assert!(
        faults.truncated_requests_refused > 0,
        "no truncated push reached the server with half its body: {faults}"
    );
    let syncs: u64 = workers.iter().map(|w| w.syncs).sum();
    let failed: u64 = workers.iter().map(|w| w.failed_syncs).sum();
    eprintln!(
        "fault proxy (seed {seed}, {rounds} rounds, 3 phones): {faults}; syncs failed {failed}/{syncs}; \
         operations made {}, stored once each {}; case events {event_ops}; \
         last values, households and cases checked {edits}; lost 0, applied twice 0",
        made.len(),
        stored.len()
    );
}
