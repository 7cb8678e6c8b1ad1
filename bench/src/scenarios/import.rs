//! Scenario 11, import: a subdistrict of 250,000 residents (about 100,000 households in 2,500
//! buildings, 63 grids) written as the importer's CSV files (`gridwork-server sample`) and
//! imported into an empty SQLite server through the push planner, as `gridwork-server import`
//! does. Beside it, in the same run: the dry run of the same files (reading and checking every
//! row, no write), the reference for what the writes cost; and the same files imported again
//! (every row unchanged, nothing written), what a corrected re-import costs.

use std::time::Instant;

use gridwork_server::import::sample::{self, SampleSize};
use gridwork_server::import::{self, Kind, Quiet, Table};
use gridwork_server::storage::SqliteStorage;
use serde_json::json;

use super::Config;
use crate::report::{Figure, ScenarioResult, Target};

fn tables(dir: &std::path::Path) -> Vec<Table> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the files")
        .map(|e| e.expect("a file").path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| import::table::read(f).expect("a readable file"))
        .collect()
}

pub async fn run(cfg: &Config) -> ScenarioResult {
    let residents = cfg.pick(250_000, 1_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let files = dir.path().join("files");
    let written = sample::write(&files, SampleSize::city(residents), 1).expect("the files");
    let rows = written.areas
        + written.stations
        + written.buildings
        + written.households
        + written.residents
        + written.users;
    let storage = SqliteStorage::open(dir.path().join("server.db")).expect("a server database");

    let started = Instant::now();
    let dry = import::import(&storage, tables(&files), true, &mut Quiet)
        .await
        .expect("the dry run");
    let dry_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let report = import::import(&storage, tables(&files), false, &mut Quiet)
        .await
        .expect("the import");
    let import_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let again = import::import(&storage, tables(&files), false, &mut Quiet)
        .await
        .expect("the import again");
    let again_s = started.elapsed().as_secs_f64();

    let created: usize = report.counts.values().map(|c| c.created).sum();
    let unchanged: usize = again.counts.values().map(|c| c.unchanged).sum();
    let refused = report.refused.len() + dry.refused.len() + again.refused.len();
    let db_bytes = std::fs::metadata(dir.path().join("server.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    let figures = vec![
        Figure::against(
            format!(
                "import of {} residents ({rows} rows), seconds",
                written.residents
            ),
            import_s,
            "s",
            "dry run of the same files (read and check, no write)",
            dry_s,
            Target::Below { max: 600.0 },
        ),
        Figure::new(
            "rows imported per second",
            rows as f64 / import_s,
            "rows/s",
            Target::None,
        ),
        Figure::against(
            "the same files again (every row unchanged), seconds",
            again_s,
            "s",
            "the first import",
            import_s,
            Target::RatioAtMost { max: 0.5 },
        ),
        Figure::new(
            "server database after the import (log, scope buckets, records)",
            db_bytes as f64 / 1e6,
            "MB",
            Target::None,
        ),
    ];
    ScenarioResult {
        scenario: "import".into(),
        title: "11. Import of a subdistrict".into(),
        figures,
        raw: json!({
            "residents": written.residents,
            "households": written.households,
            "buildings": written.buildings,
            "areas": written.areas,
            "rows": rows,
            "created": created,
            "unchanged_again": unchanged,
            "residents_created": report.counts.get(&Kind::Residents).map(|c| c.created),
            "refused": refused,
            "dry_run_s": dry_s,
            "import_s": import_s,
            "again_s": again_s,
            "server_db_bytes": db_bytes,
        }),
        not_measured: (refused > 0).then(|| format!("{refused} rows were refused")),
    }
}
