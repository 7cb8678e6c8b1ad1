//! Scenarios 2 and 3: applying pulled operations in pages of 1,000 through the device's real
//! pull step, on an encrypted store.
//!
//! - bulk, key-ordered: households created in id order (a new device catching up);
//! - random keys: field updates of random households by five writers;
//! - stale and duplicate: the same updates again (duplicates) and copies stamped before them
//!   (stale), which must cost an index probe and no write.
//!
//! Reference: a raw LWW upsert per field write (`INSERT … ON CONFLICT … DO UPDATE … WHERE the
//! incoming (hlc, device) is newer`), 1,000 operations per transaction, same keys, on a
//! connection opened like the device's store.

use std::time::{Duration, Instant};

use gridwork_core::new_id;
use gridwork_domain::op::{Op, OpBody};
use gridwork_domain::sync::MAX_PULL_LIMIT;
use rusqlite::{Connection, params};
use serde_json::json;

use std::sync::atomic::Ordering;

use super::{Config, count_raw_pages, device, held, pull_all, raw_connection};
use crate::dataset::{DAY_MS, Updates, Writer, households, now_ms};
use crate::mem_transport::MemLog;
use crate::report::{Figure, ScenarioResult, Target};
use crate::stats::rate;

pub async fn run(cfg: &Config) -> Vec<ScenarioResult> {
    let records: usize = cfg.pick(50_000, 400);
    let updates: usize = cfg.pick(100_000, 2_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let gw = device(dir.path(), "device.db");
    let log = MemLog::default();
    pull_all(&gw, &log).await; // the (empty) bootstrap

    let start = now_ms() - 60 * DAY_MS;
    let mut creator = Writer::new(new_id(), start);
    let (creates, ids) = households(&mut creator, records, 1);
    let mut upd = Updates::new(5, start + DAY_MS, 2);
    let changes = upd.make(&ids, updates);
    let stale = Updates::stale_copies(&changes[..updates / 2], new_id(), start - DAY_MS);
    let dups: Vec<Op> = changes[updates / 2..].to_vec();
    let writes = |ops: &[Op]| -> u64 {
        ops.iter()
            .map(|o| match &o.body {
                OpBody::Set { fields } => fields.len() as u64,
                _ => 0,
            })
            .sum()
    };

    let pages = || gw.pages_written().unwrap_or(0);
    log.append(creates.clone());
    let p0 = pages();
    let bulk = pull_all(&gw, &log).await;
    let bulk_pages = pages() - p0;
    log.clear();
    let after_bulk = held(&gw);
    log.append(changes.clone());
    let p0 = pages();
    let random = pull_all(&gw, &log).await;
    let random_pages = pages() - p0;
    log.clear();
    let mut losers = stale.clone();
    losers.extend(dups.iter().cloned());
    log.append(losers.clone());
    let losing = pull_all(&gw, &log).await;
    log.clear();
    let conflicts = gw.field_conflicts().map(|c| c.len()).unwrap_or(0);

    let mut raw = raw_connection(dir.path(), "raw.db");
    let raw_written = count_raw_pages(&mut raw);
    let raw_pages = || raw_written.load(Ordering::Relaxed);
    raw.execute_batch(LWW_TABLE).expect("the raw table");
    let p0 = raw_pages();
    let raw_bulk = raw_upsert(&raw, &creates);
    let raw_bulk_pages = raw_pages() - p0;
    let p0 = raw_pages();
    let raw_random = raw_upsert(&raw, &changes);
    let raw_random_pages = raw_pages() - p0;
    let raw_losing = raw_upsert(&raw, &losers);

    let bulk_s = rate(creates.len() as u64, bulk);
    let random_s = rate(changes.len() as u64, random);
    let losing_s = rate(losers.len() as u64, losing);
    let raw_bulk_s = rate(creates.len() as u64, raw_bulk);
    let raw_random_s = rate(changes.len() as u64, raw_random);
    let raw_losing_s = rate(losers.len() as u64, raw_losing);
    let apply = ScenarioResult {
        scenario: "apply".into(),
        title: "2. Apply pulled pages".into(),
        figures: vec![
            Figure::against(
                "random keys: ops/s (field updates, 1,000-op pages)",
                random_s,
                "ops/s",
                "raw LWW upsert",
                raw_random_s,
                Target::RatioAtLeast { min: 0.5 },
            ),
            Figure::new(
                "key-ordered bulk: ops/s (records created in id order)",
                bulk_s,
                "ops/s",
                Target::AtLeast { min: 100_000.0 },
            ),
            Figure::against(
                "key-ordered bulk against the raw upsert",
                bulk_s,
                "ops/s",
                "raw LWW upsert",
                raw_bulk_s,
                Target::None,
            ),
            Figure::against(
                "random keys: encrypted pages written per 1,000 ops",
                per_thousand(random_pages, changes.len()),
                "",
                "raw LWW upsert",
                per_thousand(raw_random_pages, changes.len()),
                Target::None,
            ),
            Figure::against(
                "bulk: encrypted pages written per 1,000 ops",
                per_thousand(bulk_pages, creates.len()),
                "",
                "raw LWW upsert",
                per_thousand(raw_bulk_pages, creates.len()),
                Target::None,
            ),
        ],
        raw: json!({
            "page_ops": MAX_PULL_LIMIT,
            "records": records,
            "held_after_bulk": after_bulk,
            "bulk_ops": creates.len(),
            "bulk_field_writes": writes(&creates),
            "bulk_seconds": bulk.as_secs_f64(),
            "bulk_ops_per_s": bulk_s,
            "raw_bulk_seconds": raw_bulk.as_secs_f64(),
            "raw_bulk_ops_per_s": raw_bulk_s,
            "random_ops": changes.len(),
            "random_field_writes": writes(&changes),
            "writers": upd.devices().len(),
            "random_seconds": random.as_secs_f64(),
            "random_ops_per_s": random_s,
            "raw_random_seconds": raw_random.as_secs_f64(),
            "raw_random_ops_per_s": raw_random_s,
            "bulk_pages_written": bulk_pages,
            "raw_bulk_pages_written": raw_bulk_pages,
            "random_pages_written": random_pages,
            "raw_random_pages_written": raw_random_pages,
            "encrypted": true,
        }),
        not_measured: None,
    };
    let stale_result = ScenarioResult {
        scenario: "stale".into(),
        title: "3. Stale and duplicate ops".into(),
        figures: vec![Figure::against(
            "stale + duplicate ops/s",
            losing_s,
            "ops/s",
            "winning ops (2, random keys)",
            random_s,
            Target::RatioAtLeast { min: 3.0 },
        )],
        raw: json!({
            "stale_ops": stale.len(),
            "duplicate_ops": dups.len(),
            "seconds": losing.as_secs_f64(),
            "ops_per_s": losing_s,
            "conflicts_recorded": conflicts,
            "raw_losing_upserts_per_s": raw_losing_s,
        }),
        not_measured: None,
    };
    vec![apply, stale_result]
}

/// The raw reference's table: one row per field, last writer wins by (hlc, device).
pub const LWW_TABLE: &str = "CREATE TABLE lww (
    id TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
    hlc INTEGER NOT NULL, device TEXT NOT NULL,
    PRIMARY KEY (id, field)
) WITHOUT ROWID";

fn per_thousand(pages: u64, ops: usize) -> f64 {
    pages as f64 * 1_000.0 / ops.max(1) as f64
}

/// One upsert per field write, one transaction per page; returns the time taken.
pub fn raw_upsert(conn: &Connection, ops: &[Op]) -> Duration {
    let started = Instant::now();
    for page in ops.chunks(MAX_PULL_LIMIT) {
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO lww (id, field, value, hlc, device) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id, field) DO UPDATE SET value = excluded.value,
                     hlc = excluded.hlc, device = excluded.device
                 WHERE (excluded.hlc, excluded.device) > (lww.hlc, lww.device)",
            )
            .expect("prepare");
        for op in page {
            let OpBody::Set { fields } = &op.body else {
                continue;
            };
            let id = op.entity_id.to_string();
            let device = op.stamp.device.to_string();
            for (name, write) in fields {
                stmt.execute(params![
                    id,
                    name,
                    serde_json::to_string(&write.value).expect("serializes"),
                    op.stamp.hlc.as_i64(),
                    device
                ])
                .expect("upsert");
            }
        }
        drop(stmt);
        conn.execute_batch("COMMIT").expect("commit");
    }
    started.elapsed()
}
