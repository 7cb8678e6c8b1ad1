//! Scenario 8, growth: the time to apply n pulled operations into a fresh encrypted store, for
//! n = 10k, 100k and 1M (a fifth creating households in id order, the rest field updates of
//! random ones), the cost per operation at each size and the fitted exponent k of t ∝ n^k.
//!
//! The same series runs a second time with a page cache large enough for the whole store
//! (512 MB instead of the phone's 32 MB): the difference between the two curves is what the
//! cache misses cost, each miss a page read back, HMAC-checked and decrypted.

use gridwork_core::new_id;
use serde_json::json;

use gridwork_core::{Gridwork, OpenOptions};

use super::apply::{LWW_TABLE, raw_upsert};
use super::{Config, bench_key, pull_all, raw_connection};
use crate::dataset::{DAY_MS, Updates, Writer, households, now_ms};
use crate::mem_transport::MemLog;
use crate::report::{Figure, ScenarioResult, Target};
use crate::stats::growth_exponent;

/// The page cache of the second series, in MB: more than the store of a million operations.
const WHOLE_STORE_CACHE_MB: u32 = 512;

pub async fn run(cfg: &Config) -> ScenarioResult {
    let sizes: Vec<usize> = cfg.pick(vec![10_000, 100_000, 1_000_000], vec![1_000, 2_000, 4_000]);
    let (k, raw_k, rows, mut figures) = series(&sizes, None, true).await;
    let (big_k, _, big_rows, big_figures) = series(&sizes, Some(WHOLE_STORE_CACHE_MB), false).await;
    let raw_k = raw_k.expect("the first series measures the reference");
    figures.push(Figure::against(
        "fitted exponent k (t ∝ n^k; 1 is linear)",
        k,
        "",
        "raw LWW upsert, same ops",
        raw_k,
        Target::Below { max: 1.1 },
    ));
    figures.extend(big_figures.into_iter().map(|mut f| {
        f.name = format!("{WHOLE_STORE_CACHE_MB} MB cache: {}", f.name);
        f
    }));
    figures.push(Figure::new(
        format!("{WHOLE_STORE_CACHE_MB} MB cache: fitted exponent k"),
        big_k,
        "",
        Target::None,
    ));
    ScenarioResult {
        scenario: "growth".into(),
        title: "8. Growth".into(),
        figures,
        raw: json!({
            "points": rows,
            "k": k,
            "raw_k": raw_k,
            "k_target": "≤ 1 (linear), judged < 1.1 for noise",
            "whole_store_cache_mb": WHOLE_STORE_CACHE_MB,
            "whole_store_cache_points": big_rows,
            "whole_store_cache_k": big_k,
        }),
        not_measured: None,
    }
}

/// One series of sizes with the given page cache (`None`: the store's default); returns the
/// fitted k, the raw points and a figure per size.
///
/// With `raw`, the same operations also go through the raw LWW upsert (scenario 2's reference)
/// on a connection opened like the store, so that the curve of a bare b-tree of the same keys is
/// measured beside ours.
async fn series(
    sizes: &[usize],
    cache_mb: Option<u32>,
    raw: bool,
) -> (f64, Option<f64>, Vec<serde_json::Value>, Vec<Figure>) {
    let mut points = Vec::new();
    let mut raw_points = Vec::new();
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for &n in sizes {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let gw = Gridwork::open_with(
            dir.path().join("device.db"),
            OpenOptions {
                cache_mb,
                ..OpenOptions::with_key(bench_key())
            },
        )
        .expect("the device store opens");
        let log = MemLog::default();
        pull_all(&gw, &log).await;
        let start = now_ms() - 60 * DAY_MS;
        let mut creator = Writer::new(new_id(), start);
        let records = n / 5;
        let (creates, ids) = households(&mut creator, records, n as u64);
        let mut upd = Updates::new(5, start + DAY_MS, n as u64 + 1);
        let reference = raw.then(|| {
            let conn = raw_connection(dir.path(), "raw.db");
            conn.execute_batch(LWW_TABLE).expect("the raw table");
            conn
        });
        let mut raw_elapsed = std::time::Duration::ZERO;
        let mut elapsed = std::time::Duration::ZERO;
        if let Some(conn) = &reference {
            raw_elapsed += raw_upsert(conn, &creates);
        }
        log.append(creates);
        elapsed += pull_all(&gw, &log).await;
        log.clear();
        // In slices, so that a million operations are never all in memory at once.
        let mut left = n - records;
        while left > 0 {
            let k = left.min(100_000);
            let slice = upd.make(&ids, k);
            if let Some(conn) = &reference {
                raw_elapsed += raw_upsert(conn, &slice);
            }
            log.append(slice);
            elapsed += pull_all(&gw, &log).await;
            log.clear();
            left -= k;
        }
        let secs = elapsed.as_secs_f64();
        let per_op_us = secs * 1e6 / n as f64;
        points.push((n as f64, secs));
        let name = format!("cost per op at {} ops", crate::report::group(n as f64));
        let raw_secs = reference.as_ref().map(|_| raw_elapsed.as_secs_f64());
        rows.push(json!({
            "ops": n,
            "records": records,
            "seconds": secs,
            "ops_per_s": n as f64 / secs,
            "us_per_op": per_op_us,
            "raw_seconds": raw_secs,
            "raw_us_per_op": raw_secs.map(|r| r * 1e6 / n as f64),
        }));
        figures.push(match raw_secs {
            Some(r) => {
                raw_points.push((n as f64, r));
                Figure::against(
                    name,
                    per_op_us,
                    "µs",
                    "raw LWW upsert",
                    r * 1e6 / n as f64,
                    Target::None,
                )
            }
            None => Figure::new(name, per_op_us, "µs", Target::None),
        });
    }
    let raw_k = (!raw_points.is_empty()).then(|| growth_exponent(&raw_points));
    (growth_exponent(&points), raw_k, rows, figures)
}
