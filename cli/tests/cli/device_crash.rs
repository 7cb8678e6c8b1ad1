//! Kill -9 the `gridwork` binary at random instants while it writes and syncs (its hidden
//! `soak` command, which prints each write it acknowledged), at least 100 times. After every
//! kill the store opens, passes SQLite's integrity check, and its outbox and state agree: every
//! queued change is in the state, and every change of this phone in the state is either queued
//! or already on the server. At the end, after a clean sync, every phone has converged and every
//! acknowledged edit is there exactly once. Some kills must land after a write began and before
//! it was acknowledged, and some during a sync, or the test fails.
//!
//! `GRIDWORK_CRASH_KILLS=N` sets the number of kills (default 100); `GRIDWORK_LONG_FAULTS=1`
//! makes it 1,000.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use gridwork_core::{Gridwork, HttpTransport, Transport};
use gridwork_domain::hlc::Stamp;
use gridwork_domain::model::Household;
use gridwork_domain::op::{Op, OpBody};
use gridwork_domain::sync::{MAX_PULL_LIMIT, Role};
use gridwork_domain::workflow::CaseAction;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::{LocalServer, gridwork, stderr};

fn kills() -> usize {
    let long = std::env::var("GRIDWORK_LONG_FAULTS").is_ok_and(|v| v == "1");
    std::env::var("GRIDWORK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if long { 1000 } else { 100 })
}

/// What a phone acknowledged, read from its `soak` lines.
#[derive(Debug, Default)]
struct Acked {
    /// Per household: the last acknowledged phone number, and numbers whose write began after
    /// it (killed before it could be acknowledged: each may or may not have committed).
    phones: BTreeMap<String, (Option<String>, Vec<String>)>,
    households: BTreeSet<String>,
    cases: BTreeSet<String>,
    notes: Vec<(String, String)>,
}

impl Acked {
    fn read(&mut self, line: &Value) {
        let s = |k: &str| line[k].as_str().unwrap_or_default().to_string();
        match (line["begin"].as_str(), line["ack"].as_str()) {
            (Some("phone"), _) => self
                .phones
                .entry(s("household"))
                .or_default()
                .1
                .push(s("value")),
            (_, Some("phone")) => {
                self.phones
                    .insert(s("household"), (Some(s("value")), vec![]));
            }
            (_, Some("household")) => {
                self.households.insert(s("id"));
            }
            (_, Some("case")) => {
                self.cases.insert(s("id"));
            }
            (_, Some("note")) => self.notes.push((s("case"), s("text"))),
            _ => {}
        }
    }

    fn count(&self) -> usize {
        self.phones.values().filter(|(v, _)| v.is_some()).count()
            + self.households.len()
            + self.cases.len()
            + self.notes.len()
    }
}

/// The server's log as seen so far: per record and field, the stamps that wrote it; and the
/// case events. Read after each kill (the server may hold a push whose answer died with the
/// phone).
#[derive(Debug, Default)]
struct ServerLog {
    after: u64,
    ops: Vec<Op>,
    fields: BTreeSet<(String, String, Stamp)>,
    events: BTreeSet<String>,
}

impl ServerLog {
    fn catch_up(&mut self, rt: &tokio::runtime::Runtime, net: &HttpTransport) {
        loop {
            let page = rt
                .block_on(net.pull(self.after, MAX_PULL_LIMIT, 0))
                .unwrap()
                .value;
            for s in page.ops {
                match &s.op.body {
                    OpBody::Set { fields } => {
                        for f in fields.keys() {
                            self.fields
                                .insert((s.op.entity_id.to_string(), f.clone(), s.op.stamp));
                        }
                    }
                    OpBody::CaseEvent { event } => {
                        self.events.insert(event.id.to_string());
                    }
                    OpBody::Delete => {}
                }
                self.ops.push(s.op);
            }
            self.after = page.next;
            if !page.more {
                return;
            }
        }
    }
}

#[derive(Debug, Default)]
struct KillFigures {
    mid_write: usize,
    mid_sync: usize,
    between: usize,
}

#[test]
fn a_phone_killed_at_random_instants_while_writing_and_syncing_loses_no_acknowledged_edit() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let url = server.handle.url();
    let code = |name: &str| server.code(&rt, name, Role::Admin, vec![]);

    let (centre, net, seeded) = server.seeded_centre(&rt, "陈静", 5);
    let grid = seeded.grids[0].id.to_string();
    // The phone numbers the seeded households start with: a phone's soak takes every household
    // whose unit starts with its tag, the seeded ones (`1-101`) too, and a write to one that was
    // killed before it committed leaves the seeded number.
    let mut seeded_phones: BTreeMap<String, String> = BTreeMap::new();
    for b in centre.buildings_in_area(seeded.grids[0].id).unwrap() {
        for h in centre.households_of_building(b.id, false).unwrap() {
            seeded_phones.insert(h.id.to_string(), h.phone.unwrap_or_default());
        }
    }

    let phones: Vec<PathBuf> = (1..=2)
        .map(|i| {
            let store = dir.path().join(format!("phone-{i}.db"));
            let c = code(&format!("网格员{i}"));
            let out = gridwork(
                &store,
                &["device", "enroll", "--server", &url, "--code", &c],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            let out = gridwork(&store, &["sync"]);
            assert!(out.status.success(), "{}", stderr(&out));
            store
        })
        .collect();

    let mut acked: Vec<Acked> = phones.iter().map(|_| Acked::default()).collect();
    let mut log = ServerLog::default();
    let mut figures = KillFigures::default();
    let mut rng = StdRng::seed_from_u64(0x6b69_6c6c);
    for round in 0..kills() {
        let p = round % phones.len();
        let last = kill_soak_at_random(&phones[p], &grid, p + 1, round, &mut rng, &mut acked[p]);
        match (last["begin"].as_str(), last["ready"].as_bool()) {
            (Some("sync"), _) => figures.mid_sync += 1,
            (Some(_), _) => figures.mid_write += 1,
            (None, _) => figures.between += 1,
        }
        log.catch_up(&rt, &net);
        check_outbox_and_state_agree(&phones[p], &log, round);
    }
    // The kills must have landed where it matters, or the checks above proved nothing.
    assert!(
        figures.mid_write > 0 && figures.mid_sync > 0,
        "no kill landed mid-write or none mid-sync: {figures:?}"
    );

    // The network is fine and nobody is killed: a clean sync, and everyone converges.
    for _ in 0..2 {
        for store in &phones {
            let out = gridwork(store, &["sync"]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
    rt.block_on(centre.sync_now(&net)).unwrap();
    let digest = centre.state_digest().unwrap();
    let stores: Vec<Gridwork> = phones.iter().map(|p| Gridwork::open(p).unwrap()).collect();
    for gw in &stores {
        assert_eq!(gw.state_digest().unwrap(), digest);
        assert_eq!(gw.pending_count().unwrap(), 0);
    }

    // Every acknowledged edit is there, once, on every phone and the centre.
    for a in &acked {
        for gw in stores.iter().chain(std::iter::once(&centre)) {
            check_acknowledged_edits_present_once(gw, a, &seeded_phones);
        }
    }
    log.catch_up(&rt, &net);
    let ids: BTreeSet<_> = log.ops.iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), log.ops.len(), "an operation stored twice");
    let edits: usize = acked.iter().map(Acked::count).sum();
    assert!(
        edits > kills(),
        "the phones made progress between kills ({edits} acknowledged edits)"
    );
    eprintln!(
        "device crash: {} kill -9 of the gridwork binary ({} mid-write, {} mid-sync, {} between \
         steps); the store opened, passed integrity_check and its outbox agreed with its state \
         after every kill; {edits} acknowledged edits, all present exactly once on 3 devices after \
         a clean sync; server log {} operations, each once; lost 0",
        kills(),
        figures.mid_write,
        figures.mid_sync,
        figures.between,
        log.ops.len()
    );
    rt.block_on(server.handle.shutdown()).unwrap();
}

/// Starts `gridwork soak` on a phone's store, kills it (SIGKILL) 0-60 ms after it is ready,
/// reads what it acknowledged; returns the last line it printed.
fn kill_soak_at_random(
    store: &Path,
    grid: &str,
    tag: usize,
    round: usize,
    rng: &mut StdRng,
    acked: &mut Acked,
) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridwork"))
        .arg("--store")
        .arg(store)
        .args(["soak", "--area", grid, "--tag", &tag.to_string()])
        .args(["--seed", &round.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(60));
    let ready = first.as_deref().is_ok_and(|l| l.contains("\"ready\""));
    if ready {
        std::thread::sleep(Duration::from_micros(rng.random_range(0..60_000)));
    }
    let exited = child.try_wait().unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback handler runs
    child.wait().unwrap();
    reader.join().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        ready && exited.is_none(),
        "round {round}: soak stopped by itself: {err}"
    );
    let mut last = Value::Null;
    for line in lines.try_iter() {
        // The kill may cut the very last line short; it was not acknowledged then.
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        acked.read(&v);
        last = v;
    }
    last
}

/// The store a killed phone left opens, is intact, and its outbox and state agree.
fn check_outbox_and_state_agree(db: &Path, log: &ServerLog, round: usize) {
    let gw = Gridwork::open(db).unwrap_or_else(|e| panic!("round {round}: store won't open: {e}"));
    let me = gw.device_id();
    assert!(gw.rejected_ops().unwrap().is_empty(), "round {round}");
    let queued = gw.pending_ops(usize::MAX >> 1).unwrap();
    drop(gw);

    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "round {round}");
    let mut state: BTreeMap<(String, String), Stamp> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT id, stamps FROM records").unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, stamps) = row.unwrap();
        let stamps = gridwork_core::store::records::decode_stamps(&stamps).unwrap();
        for (field, stamp) in stamps {
            state.insert((id.clone(), field), stamp);
        }
    }
    let mut events: BTreeMap<String, String> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT id, device FROM case_events").unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, device) = row.unwrap();
        events.insert(id, device);
    }

    // Every queued change is in the state.
    let mut queued_fields = BTreeSet::new();
    let mut queued_events = BTreeSet::new();
    for e in &queued {
        match &e.op.body {
            OpBody::Set { fields } => {
                for f in fields.keys() {
                    let key = (e.op.entity_id.to_string(), f.clone());
                    let held = state.get(&key).copied();
                    assert!(
                        held.is_some_and(|s| s >= e.op.stamp),
                        "round {round}: a queued write of {key:?} is not in the state"
                    );
                    queued_fields.insert((key.0, key.1, e.op.stamp));
                }
            }
            OpBody::CaseEvent { event } => {
                assert!(
                    events.contains_key(&event.id.to_string()),
                    "round {round}: a queued case event is not in the state"
                );
                queued_events.insert(event.id.to_string());
            }
            OpBody::Delete => panic!("round {round}: the phones never delete"),
        }
    }
    // Every change of this phone in the state is queued or already on the server.
    for ((id, field), stamp) in &state {
        if stamp.device != me {
            continue;
        }
        let key = (id.clone(), field.clone(), *stamp);
        assert!(
            queued_fields.contains(&key) || log.fields.contains(&key),
            "round {round}: {id}.{field} holds a write that is neither queued nor on the server"
        );
    }
    for (id, device) in &events {
        if *device == me.to_string() {
            assert!(
                queued_events.contains(id) || log.events.contains(id),
                "round {round}: case event {id} is neither queued nor on the server"
            );
        }
    }
}

/// Each acknowledged write is there: the last acknowledged phone number (or one whose write
/// began after it, or the number it was seeded with when none was acknowledged), every
/// acknowledged household and case, each acknowledged note once.
fn check_acknowledged_edits_present_once(
    gw: &Gridwork,
    acked: &Acked,
    seeded: &BTreeMap<String, String>,
) {
    for (h, (last, begun_after)) in &acked.phones {
        let held = gw
            .get::<Household>(h.parse().unwrap())
            .unwrap()
            .phone
            .unwrap_or_default();
        // With no write acknowledged, the number it started with: a seeded household's, or none
        // for a household the phone made.
        let start = seeded.get(h).cloned().unwrap_or_default();
        let never = (last.is_none() && held == start).then_some(&held);
        let mut expected = last.iter().chain(begun_after).chain(never);
        assert!(
            expected.any(|v| *v == held),
            "household {h}: holds {held}, acknowledged {last:?}"
        );
    }
    for h in &acked.households {
        gw.get::<Household>(h.parse().unwrap()).unwrap();
    }
    for c in &acked.cases {
        gw.case(c.parse().unwrap()).unwrap();
    }
    for (case, text) in &acked.notes {
        let timeline = gw.case_timeline(case.parse().unwrap()).unwrap();
        let n = timeline
            .iter()
            .filter(|e| matches!(&e.event.action, CaseAction::Note { text: t } if t == text))
            .count();
        assert_eq!(n, 1, "note {text:?} on case {case}");
    }
}
