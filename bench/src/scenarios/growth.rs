//! Scenario 8, growth: the time to apply n pulled operations into a fresh encrypted store, for
//! n = 10k, 100k and 1M (a fifth creating households in id order, the rest field updates of
//! random ones), the cost per operation at each size and the fitted exponent k of t ∝ n^k.
//!
//! The same series runs a second time with a page cache large enough for the whole store
//! (512 MB instead of the phone's 32 MB): the difference between the two curves is what the
//! cache misses cost, each miss a page read back, HMAC-checked and decrypted.

use gridwork_domain::ids::new_id;
use serde_json::json;

use gridwork_core::{Gridwork, OpenOptions};

use super::{Config, bench_key, pull_all};
use crate::dataset::{DAY_MS, Updates, Writer, households, now_ms};
use crate::mem_transport::MemLog;
use crate::report::{Figure, ScenarioResult, Target};
use crate::stats::growth_exponent;

/// The page cache of the second series, in MB: more than the store of a million operations.
const WHOLE_STORE_CACHE_MB: u32 = 512;

pub async fn run(cfg: &Config) -> ScenarioResult {
    let sizes: Vec<usize> = cfg.pick(vec![10_000, 100_000, 1_000_000], vec![1_000, 2_000, 4_000]);
    let (k, rows, mut figures) = series(&sizes, None).await;
    let (big_k, big_rows, big_figures) = series(&sizes, Some(WHOLE_STORE_CACHE_MB)).await;
    figures.push(Figure::new(
        "fitted exponent k (t ∝ n^k; 1 is linear)",
        k,
        "",
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
async fn series(
    sizes: &[usize],
    cache_mb: Option<u32>,
) -> (f64, Vec<serde_json::Value>, Vec<Figure>) {
    let mut points = Vec::new();
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
        let mut elapsed = std::time::Duration::ZERO;
        log.append(creates);
        elapsed += pull_all(&gw, &log).await;
        log.clear();
        // In slices, so that a million operations are never all in memory at once.
        let mut left = n - records;
        while left > 0 {
            let k = left.min(100_000);
            log.append(upd.make(&ids, k));
            elapsed += pull_all(&gw, &log).await;
            log.clear();
            left -= k;
        }
        let secs = elapsed.as_secs_f64();
        let per_op_us = secs * 1e6 / n as f64;
        points.push((n as f64, secs));
        rows.push(json!({
            "ops": n,
            "records": records,
            "seconds": secs,
            "ops_per_s": n as f64 / secs,
            "us_per_op": per_op_us,
        }));
        figures.push(Figure::new(
            format!("cost per op at {} ops", crate::report::group(n as f64)),
            per_op_us,
            "µs",
            Target::None,
        ));
    }
    (growth_exponent(&points), rows, figures)
}
