//! Where the PostgreSQL figures run: the server `--postgres URL` (or
//! `GRIDWORK_TEST_DATABASE_URL`) names, or, when neither is given, a throwaway one started with
//! `scripts/test-postgres.sh` for the run and stopped after it. When none can be had, the
//! report says so and why; a PostgreSQL figure is never made up.

use std::path::PathBuf;
use std::process::Command;

pub use gridwork_server::storage::postgres::scratch::TEST_DATABASE_URL_VAR;

/// A PostgreSQL server for the run.
#[derive(Debug)]
pub struct PgServer {
    pub url: String,
    /// The folder of a server this run started (stopped on drop).
    started: Option<PathBuf>,
}

impl PgServer {
    /// The server given, or one started now. `Err` says why there is none.
    pub fn find_or_start(given: Option<String>, may_start: bool) -> Result<PgServer, String> {
        if let Some(url) = given.filter(|u| !u.is_empty()) {
            return Ok(PgServer { url, started: None });
        }
        if !may_start {
            return Err(format!(
                "no PostgreSQL server: pass --postgres URL or set {TEST_DATABASE_URL_VAR}"
            ));
        }
        let script = workspace_root().join("scripts/test-postgres.sh");
        if !script.exists() {
            return Err(format!(
                "no PostgreSQL server given (--postgres URL or {TEST_DATABASE_URL_VAR}) and \
                 scripts/test-postgres.sh is not beside this build to start one"
            ));
        }
        eprintln!("starting a throwaway PostgreSQL server with scripts/test-postgres.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .output()
            .map_err(|e| format!("could not run scripts/test-postgres.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/test-postgres.sh could not start PostgreSQL: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no message")
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_string())
        };
        match (value(TEST_DATABASE_URL_VAR), value("GRIDWORK_TEST_PG_DIR")) {
            (Some(url), Some(dir)) => Ok(PgServer {
                url,
                started: Some(PathBuf::from(dir)),
            }),
            _ => Err("scripts/test-postgres.sh did not print the server's URL".into()),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let _ = Command::new("bash")
                .arg(workspace_root().join("scripts/test-postgres.sh"))
                .arg("stop")
                .arg(dir)
                .output();
        }
    }
}

/// The workspace this binary was built from (where `scripts/` is).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}
