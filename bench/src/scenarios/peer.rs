//! Scenario 7, peer: the same field updates from five writers merged by Automerge (in memory)
//! and applied durably by our engine (encrypted store, pages of 1,000, each page committed).
//!
//! Both start from the same 10,000 households, already held by the receiver. Each update is
//! one Automerge change (as each of ours is one stamped operation); the writers' documents are
//! made before the clock starts, and the figure is the receiver merging all five of them.

use std::time::Instant;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT};
use gridwork_core::new_id;
use gridwork_domain::op::OpBody;
use serde_json::{Value, json};

use super::{Config, device, pull_all};
use crate::dataset::{DAY_MS, Updates, Writer, households, now_ms};
use crate::mem_transport::MemLog;
use crate::report::{Figure, ScenarioResult, Target};
use crate::stats::rate;

pub async fn run(cfg: &Config) -> ScenarioResult {
    let updates: usize = cfg.pick(100_000, 300);
    let records: usize = cfg.pick(10_000, 100);
    let writers = 5;

    let start = now_ms() - 60 * DAY_MS;
    let mut creator = Writer::new(new_id(), start);
    let (creates, ids) = households(&mut creator, records, 7);
    let mut upd = Updates::new(writers, start + DAY_MS, 8);
    let changes = upd.make(&ids, updates);
    let devices = upd.devices();

    // Ours: the receiver holds the households, then pulls the updates.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let gw = device(dir.path(), "device.db");
    let log = MemLog::default();
    log.append(creates.clone());
    pull_all(&gw, &log).await;
    log.clear();
    log.append(changes.clone());
    let ours = pull_all(&gw, &log).await;
    let ours_s = rate(updates as u64, ours);

    // Automerge: a base document with the same households, one fork per writer.
    let made = Instant::now();
    let mut base = AutoCommit::new();
    let table = base
        .put_object(ROOT, "households", ObjType::Map)
        .expect("put");
    let mut objs: std::collections::HashMap<uuid::Uuid, ObjId> = Default::default();
    for op in &creates {
        let OpBody::Set { fields } = &op.body else {
            continue;
        };
        let obj = base
            .put_object(&table, op.entity_id.to_string(), ObjType::Map)
            .expect("put");
        for (name, w) in fields {
            base.put(&obj, name.as_str(), scalar(&w.value))
                .expect("put");
        }
        objs.insert(op.entity_id, obj);
    }
    base.commit();
    let mut forks: Vec<AutoCommit> = (0..writers).map(|_| base.fork()).collect();
    for op in &changes {
        let w = devices
            .iter()
            .position(|d| *d == op.stamp.device)
            .expect("a writer");
        let OpBody::Set { fields } = &op.body else {
            continue;
        };
        let obj = &objs[&op.entity_id];
        for (name, write) in fields {
            forks[w]
                .put(obj, name.as_str(), scalar(&write.value))
                .expect("put");
        }
        forks[w].commit();
    }
    let making = made.elapsed();
    let mut receiver = base.fork();
    let merged = Instant::now();
    for f in &mut forks {
        receiver.merge(f).expect("merge");
    }
    let theirs = merged.elapsed();
    let theirs_s = rate(updates as u64, theirs);

    ScenarioResult {
        scenario: "peer".into(),
        title: "7. Peer (Automerge)".into(),
        figures: vec![Figure::against(
            "our durable apply, ops/s",
            ours_s,
            "ops/s",
            "Automerge in-memory merge",
            theirs_s,
            Target::RatioAtLeast { min: 1.0 },
        )],
        raw: json!({
            "updates": updates,
            "writers": writers,
            "records": records,
            "ours_seconds": ours.as_secs_f64(),
            "ours_ops_per_s": ours_s,
            "automerge_merge_seconds": theirs.as_secs_f64(),
            "automerge_ops_per_s": theirs_s,
            "automerge_writers_making_seconds": making.as_secs_f64(),
            "automerge_changes_per_update": 1,
        }),
        not_measured: None,
    }
}

/// A JSON scalar as an Automerge scalar (our fields here are strings and booleans).
fn scalar(v: &Value) -> automerge::ScalarValue {
    match v {
        Value::String(s) => automerge::ScalarValue::Str(s.as_str().into()),
        Value::Bool(b) => automerge::ScalarValue::Boolean(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || automerge::ScalarValue::F64(n.as_f64().unwrap_or(0.0)),
            automerge::ScalarValue::Int,
        ),
        Value::Null => automerge::ScalarValue::Null,
        other => automerge::ScalarValue::Str(other.to_string().into()),
    }
}
