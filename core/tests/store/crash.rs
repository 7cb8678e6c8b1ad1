//! Kill a writer at random instants, many times, and check after each kill that the store
//! opens and its state and outbox agree: every change in the state has its operation in the
//! outbox and every queued operation's change is in the state. A crash leaves both or neither.
//!
//! The same test is both roles: run normally it is the parent; it re-runs its own binary with
//! `GRIDWORK_CRASH_CHILD` set, and that child writes until it is killed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use gridwork_core::Gridwork;
use gridwork_domain::hlc::Stamp;
use gridwork_domain::model::*;
use gridwork_domain::op::OpBody;
use gridwork_domain::workflow::CaseAction;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::*;

const TEST_NAME: &str = "crash::a_killed_writer_leaves_state_and_outbox_in_agreement";

/// Kills per run; `GRIDWORK_CRASH_KILLS` raises it for a longer soak.
fn kills() -> usize {
    std::env::var("GRIDWORK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

#[test]
fn a_killed_writer_leaves_state_and_outbox_in_agreement() {
    if let Ok(path) = std::env::var("GRIDWORK_CRASH_CHILD") {
        let seed = std::env::var("GRIDWORK_CRASH_SEED")
            .unwrap()
            .parse()
            .unwrap();
        write_until_killed(Path::new(&path), seed);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let mut rng = StdRng::seed_from_u64(0x6772_6964);
    let mut total_ops = 0;
    for round in 0..kills() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env("GRIDWORK_CRASH_CHILD", &db)
            .env("GRIDWORK_CRASH_SEED", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.unwrap().contains("writer ready")),
            "the child writer did not start"
        );
        std::thread::sleep(Duration::from_micros(rng.random_range(500..40_000)));
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback handler runs
        child.wait().unwrap();
        total_ops = check_state_and_outbox_agree(&db, round);
    }
    assert!(
        total_ops > kills(),
        "the writers made progress between kills ({total_ops} ops)"
    );
    eprintln!(
        "store crash: {} kills of a writer at random instants; the store opened, passed \
         integrity_check and its state and outbox agreed after every one; {total_ops} operations \
         queued at the end",
        kills()
    );
}

/// The child: writes one action after another (each its own transaction) until killed.
fn write_until_killed(db: &Path, seed: u64) -> ! {
    let gw = Gridwork::open(db).unwrap();
    let g = match gw.child_areas(None).unwrap().first() {
        None => grid_with_buildings(&gw, 3),
        Some(_) => {
            let sub = gw
                .child_areas(gw.child_areas(None).unwrap().first().map(|a| a.id))
                .unwrap();
            let layer = gw.child_areas(Some(sub[0].id)).unwrap();
            let community = gw.child_areas(Some(layer[0].id)).unwrap();
            let grid = gw.child_areas(Some(community[0].id)).unwrap();
            let micro = gw.child_areas(Some(grid[0].id)).unwrap();
            Grid {
                subdistrict: sub[0].clone(),
                community: community[0].clone(),
                grid: grid[0].clone(),
                micro: micro[0].clone(),
                buildings: gw.buildings_in_area(grid[0].id).unwrap(),
            }
        }
    };
    println!("writer ready");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut households = Vec::new();
    let mut cases = Vec::new();
    for i in 0u64.. {
        let building = g.buildings[rng.random_range(0..g.buildings.len())].id;
        match rng.random_range(0..5) {
            0 | 1 => {
                let h = household(&gw, building, &format!("{seed}-{i}"), HouseholdKind::Rental);
                resident(&gw, h.id, "赵磊", &id_number("19700101", (i % 999) as u16));
                households.push(h.id);
            }
            2 if !households.is_empty() => {
                let h = households[rng.random_range(0..households.len())];
                let phone = format!("138{:08}", rng.random_range(0..100_000_000u32));
                gw.update::<Household>(h, |h| h.phone = Some(phone))
                    .unwrap();
            }
            3 => {
                let c = gw
                    .open_case(hazard(&g, building, "楼道堵塞", Severity::Medium))
                    .unwrap();
                cases.push(c.case.id);
            }
            _ if !cases.is_empty() => {
                let c = cases.swap_remove(rng.random_range(0..cases.len()));
                gw.record_case_event(
                    c,
                    CaseAction::Assign {
                        assignee: None,
                        deadline_ms: None,
                    },
                )
                .unwrap();
            }
            _ => {}
        }
    }
    unreachable!("the loop above never ends")
}

/// Opens the store the killed writer left and checks the invariant; returns the outbox size.
fn check_state_and_outbox_agree(db: &Path, round: usize) -> usize {
    let gw = Gridwork::open(db).unwrap_or_else(|e| panic!("round {round}: store won't open: {e}"));
    let me = gw.device_id();
    let ops = gw.pending_ops(usize::MAX >> 1).unwrap();

    // The newest stamp the outbox holds for each (record, field), and every queued event.
    let mut queued: BTreeMap<(String, String), Stamp> = BTreeMap::new();
    let mut queued_events = BTreeSet::new();
    for e in &ops {
        match &e.op.body {
            OpBody::Set { fields } => {
                for f in fields.keys() {
                    let slot = queued
                        .entry((e.op.entity_id.to_string(), f.clone()))
                        .or_insert(e.op.stamp);
                    *slot = (*slot).max(e.op.stamp);
                }
            }
            OpBody::CaseEvent { event } => {
                queued_events.insert(event.id.to_string());
            }
            OpBody::Delete => panic!("the writer never deletes"),
        }
    }

    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "round {round}");
    let mut in_state: BTreeMap<(String, String), Stamp> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT id, stamps FROM records").unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, stamps) = row.unwrap();
        let stamps = gridwork_core::store::records::decode_stamps(&stamps).unwrap();
        for (field, stamp) in stamps {
            assert_eq!(stamp.device, me, "round {round}: only this device wrote");
            in_state.insert((id.clone(), field), stamp);
        }
    }
    assert_eq!(
        in_state, queued,
        "round {round}: field stamps in the state = newest queued writes"
    );
    let events: BTreeSet<String> = conn
        .prepare("SELECT id FROM case_events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        events, queued_events,
        "round {round}: case events = queued case events"
    );

    // The clock resumes past everything already written.
    let newest = ops.iter().map(|e| e.op.stamp).max().unwrap();
    let area = gw.child_areas(None).unwrap().remove(0);
    let renamed = format!("西湖区{round}");
    gw.update::<Area>(area.id, |a| a.name = renamed).unwrap();
    let after = gw
        .pending_ops(usize::MAX >> 1)
        .unwrap()
        .last()
        .unwrap()
        .op
        .stamp;
    assert!(
        after > newest,
        "round {round}: the clock went back after the crash"
    );
    ops.len() + 1
}
