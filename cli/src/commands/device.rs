//! `gridwork device enroll|status` and `gridwork sync`.

use gridwork_core::{Gridwork, HttpTransport};
use serde_json::json;

use super::{CliError, CliResult};
use crate::args::DeviceCmd;
use crate::output;

const SERVER_URL: &str = "server_url";
/// The PEM of a private CA given at enrollment (`--ca-cert`).
const SERVER_CA_PEM: &str = "server_ca_pem";

pub fn runtime() -> CliResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn transport(gw: &Gridwork) -> CliResult<HttpTransport> {
    let url = gw.setting(SERVER_URL)?.ok_or_else(|| {
        CliError::Usage(
            "this device is not enrolled: run `gridwork device enroll --server URL --code CODE`"
                .into(),
        )
    })?;
    connect(&url, gw.token()?, gw.setting(SERVER_CA_PEM)?.as_deref())
}

fn connect(url: &str, token: Option<String>, ca_pem: Option<&str>) -> CliResult<HttpTransport> {
    match ca_pem {
        Some(pem) => HttpTransport::with_extra_ca(url, token, pem.as_bytes()),
        None => HttpTransport::new(url, token),
    }
    .map_err(|e| CliError::Usage(e.to_string()))
}

pub fn device(gw: &Gridwork, cmd: DeviceCmd, json: bool) -> CliResult {
    match cmd {
        DeviceCmd::Enroll {
            server,
            code,
            name,
            ca_cert,
        } => {
            if !server.starts_with("http://") && !server.starts_with("https://") {
                return Err(CliError::Usage(format!(
                    "--server must be an http:// or https:// URL, not {server:?}"
                )));
            }
            let ca_pem = match &ca_cert {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    CliError::Usage(format!("--ca-cert: cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            let net = connect(&server, None, ca_pem.as_deref())?;
            let resp = runtime()?.block_on(gw.enroll(&net, &code, &name))?;
            gw.set_setting(SERVER_URL, &server)?;
            if let Some(pem) = &ca_pem {
                gw.set_setting(SERVER_CA_PEM, pem)?;
            }
            output::one(
                json,
                &json!({"user": resp.user_name, "role": resp.role, "device": gw.device_id()}),
                |_| {
                    format!(
                        "enrolled as {} ({}); device {}",
                        resp.user_name,
                        resp.role.as_str(),
                        gw.device_id()
                    )
                },
            );
        }
        DeviceCmd::Status => {
            let status = json!({
                "device": gw.device_id(),
                "user": gw.user_id()?,
                "server": gw.setting(SERVER_URL)?,
                "unsynced_changes": gw.pending_count()?,
                "rejected_changes": gw.rejected_ops()?.len(),
                "sync_state": gw.sync_state(),
            });
            output::one(json, &status, |s| {
                format!(
                    "device {}\nserver {}\nunsynced changes: {}\nrejected changes: {}",
                    s["device"].as_str().unwrap_or("?"),
                    s["server"].as_str().unwrap_or("(not enrolled)"),
                    s["unsynced_changes"],
                    s["rejected_changes"],
                )
            });
        }
    }
    Ok(())
}

pub fn sync(gw: &Gridwork, wait: u64, json: bool) -> CliResult {
    let net = transport(gw)?;
    let rt = runtime()?;
    let mut report = rt.block_on(gw.sync_now(&net))?;
    if wait > 0 {
        let live = rt.block_on(gw.wait_for_changes(&net, wait.min(30)))?;
        report.pulled += live.pulled;
        report.conflicts += live.conflicts;
    }
    output::one(json, &report, |r| {
        format!(
            "pushed {}, rejected {}, pulled {}, new conflicts {}, {} bytes in {} ms",
            r.pushed,
            r.rejected,
            r.pulled + r.snapshot_records,
            r.conflicts,
            r.bytes,
            r.duration_ms
        )
    });
    Ok(())
}
