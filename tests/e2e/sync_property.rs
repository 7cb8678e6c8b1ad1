//! Property: random edits on 3–6 replicas, synced in random orders with duplicated pushes and
//! replayed pulls, through the real server, always end in identical state digests.

use std::sync::atomic::Ordering;

use gridwork_core::Gridwork;
use gridwork_domain::model::{Household, HouseholdKind};
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use proptest::prelude::*;

use crate::harness::*;
use crate::sync_faults::Faulty;

#[derive(Debug, Clone)]
enum Step {
    Phone {
        replica: usize,
        household: usize,
        value: u32,
    },
    Unit {
        replica: usize,
        household: usize,
        value: u8,
    },
    Archive {
        replica: usize,
        household: usize,
        archived: bool,
    },
    Kind {
        replica: usize,
        household: usize,
        rental: bool,
    },
    Note {
        replica: usize,
    },
    Sync {
        replica: usize,
        double_push: bool,
        replay_pulls: bool,
    },
    Tick {
        replica: usize,
        ms: u64,
    },
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    let r = 0..replicas;
    prop_oneof![
        (r.clone(), 0..4usize, any::<u32>()).prop_map(|(replica, household, value)| Step::Phone {
            replica,
            household,
            value
        }),
        (r.clone(), 0..4usize, any::<u8>()).prop_map(|(replica, household, value)| Step::Unit {
            replica,
            household,
            value
        }),
        (r.clone(), 0..4usize, any::<bool>()).prop_map(|(replica, household, archived)| {
            Step::Archive {
                replica,
                household,
                archived,
            }
        }),
        (r.clone(), 0..4usize, any::<bool>()).prop_map(|(replica, household, rental)| Step::Kind {
            replica,
            household,
            rental
        }),
        r.clone().prop_map(|replica| Step::Note { replica }),
        (r.clone(), any::<bool>(), any::<bool>()).prop_map(
            |(replica, double_push, replay_pulls)| {
                Step::Sync {
                    replica,
                    double_push,
                    replay_pulls,
                }
            }
        ),
        (r, 0u64..5_000).prop_map(|(replica, ms)| Step::Tick { replica, ms }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (3usize..=6).prop_flat_map(|n| (Just(n), prop::collection::vec(step(n), 5..40)))
}

async fn sync_through(d: &Device, double_push: bool, replay_pulls: bool) {
    let mut f = Faulty::new(&d.net);
    f.double_push = double_push;
    f.replay_pulls = replay_pulls;
    d.gw.sync_now(&f).await.unwrap();
}

fn edit(gw: &Gridwork, id: uuid::Uuid, f: impl FnOnce(&mut Household)) {
    gw.update::<Household>(id, f).unwrap();
}

/// A unit edit: the phone refuses a unit another household of the building already has (the
/// ledger rule, judged on the phone as on the server), and queues nothing; any other error
/// fails the test. Two phones giving two households the same unit offline is refused by the
/// server for the second, and undone on that phone: the digests must still agree.
fn edit_unit(gw: &Gridwork, id: uuid::Uuid, unit: String) {
    let pending = gw.pending_count().unwrap();
    match gw.update::<Household>(id, |h| h.unit = unit) {
        Ok(_) => {}
        Err(gridwork_core::Error::Invalid(e)) if e.field == "household.unit" => {
            assert_eq!(
                gw.pending_count().unwrap(),
                pending,
                "a refused edit is not queued"
            );
        }
        Err(e) => panic!("unit edit: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_order_and_duplicates((n, steps) in scenario()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let server = TestServer::start().await;
            let (seeder, seeded) = seeded_admin(&server, "种子").await;
            let case = seeder.gw.open_case(gridwork_domain::model::Case {
                id: uuid::Uuid::nil(),
                kind: gridwork_domain::model::CaseKind::Hazard,
                title: "消防通道堵塞".into(),
                category: "blocked_exit".into(),
                severity: gridwork_domain::model::Severity::Medium,
                area_id: seeded.grids[0].id,
                building_id: None,
                household_id: None,
                position: None,
                opened_at_ms: 0,
                patrol_id: None,
            }).unwrap().case.id;
            seeder.sync().await;
            let mut replicas = Vec::new();
            for i in 0..n {
                let d = Device::enrolled(&server, &format!("调度员{i}"), Role::Dispatcher, vec![subdistrict(&seeded)]).await;
                d.sync().await;
                replicas.push(d);
            }
            let hh = |i: usize| seeded.households[i].id;
            for s in &steps {
                match *s {
                    Step::Phone { replica, household, value } => edit(&replicas[replica].gw, hh(household), |h| {
                        h.phone = Some(format!("139{:08}", value % 100_000_000))
                    }),
                    Step::Unit { replica, household, value } => edit_unit(
                        &replicas[replica].gw,
                        hh(household),
                        format!("{}-{}", value / 16 + 1, value % 16 + 101),
                    ),
                    Step::Archive { replica, household, archived } => {
                        edit(&replicas[replica].gw, hh(household), |h| h.archived = archived)
                    }
                    Step::Kind { replica, household, rental } => edit(&replicas[replica].gw, hh(household), |h| {
                        h.kind = if rental { HouseholdKind::Rental } else { HouseholdKind::OwnerOccupied }
                    }),
                    Step::Note { replica } => {
                        replicas[replica].gw.record_case_event(case, CaseAction::Note { text: "复查".into() }).unwrap();
                    }
                    Step::Sync { replica, double_push, replay_pulls } => {
                        sync_through(&replicas[replica], double_push, replay_pulls).await
                    }
                    Step::Tick { replica, ms } => {
                        replicas[replica].clock.fetch_add(ms, Ordering::SeqCst);
                    }
                }
            }
            // Everyone comes back online: two rounds bring every change to every replica.
            for _ in 0..2 {
                for d in &replicas {
                    d.sync().await;
                }
            }
            let digests: Vec<String> = replicas.iter().map(|d| d.gw.state_digest().unwrap()).collect();
            for d in &replicas {
                assert_eq!(d.gw.pending_count().unwrap(), 0);
            }
            assert!(digests.windows(2).all(|w| w[0] == w[1]), "replicas diverged: {digests:?}");
        });
    }
}
