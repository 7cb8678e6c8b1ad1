//! `gridwork device enroll|status|retention|new-key|export-unsynced|recover` and `gridwork sync`.

use std::path::{Path, PathBuf};

use gridwork_core::{Error as CoreError, Gridwork, HttpTransport, OpenOptions, StoreKey};
use serde_json::json;

use super::{CliError, CliResult};
use crate::args::DeviceCmd;
use crate::i18n::{t, tr};
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
    let url = gw
        .setting(SERVER_URL)?
        .ok_or_else(|| CliError::Usage(tr("cli-enroll-first", &[])))?;
    connect(&url, gw.token()?, gw.setting(SERVER_CA_PEM)?.as_deref())
}

fn connect(url: &str, token: Option<String>, ca_pem: Option<&str>) -> CliResult<HttpTransport> {
    match ca_pem {
        Some(pem) => HttpTransport::with_extra_ca(url, token, pem.as_bytes()),
        None => HttpTransport::new(url, token),
    }
    .map_err(|e| CliError::Usage(crate::i18n::transport(&e)))
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
                return Err(CliError::Usage(tr("cli-server-url", &[("value", &server)])));
            }
            let ca_pem = match &ca_cert {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| super::file_error("--ca-cert", path, &e))?,
                ),
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
                    tr(
                        "cli-enrolled",
                        &[
                            ("user", resp.user_name.as_str()),
                            ("role", &crate::i18n::role(resp.role)),
                            ("device", &gw.device_id().to_string()),
                        ],
                    )
                },
            );
        }
        DeviceCmd::NewKey { .. } | DeviceCmd::ExportUnsynced { .. } | DeviceCmd::Recover { .. } => {
            unreachable!("run before the store is opened")
        }
        DeviceCmd::Retention { days } => {
            let purged = match days {
                Some(days) => {
                    gw.set_tenant_retention_days(days)?;
                    Some(gw.purge_expired_tenants()?)
                }
                None => None,
            };
            let days = gw.tenant_retention_days()?;
            output::one(
                json,
                &json!({"tenant_retention_days": days, "purged": purged}),
                |_| match purged {
                    Some(n) => tr(
                        "cli-retention-set",
                        &[("days", &days.to_string()), ("purged", &n.to_string())],
                    ),
                    None => tr("cli-retention", &[("days", &days.to_string())]),
                },
            );
        }
        DeviceCmd::Status => {
            // How the store is encrypted (ADR 0012, 0056), for support: `null` when it is not.
            let cipher: Option<serde_json::Value> = gw
                .cipher_settings()?
                .and_then(|c| serde_json::from_str(&c).ok());
            let status = json!({
                "device": gw.device_id(),
                "user": gw.user_id()?,
                "server": gw.setting(SERVER_URL)?,
                "unsynced_changes": gw.pending_count()?,
                "rejected_changes": gw.rejected_ops()?.len(),
                "sync_state": gw.sync_state(),
                "encryption": cipher.map(|c| json!({
                    "cipher": c["cipher"],
                    "version": c["version"],
                    "page_mac": c["page_mac"],
                })),
            });
            output::one(json, &status, |s| {
                let encryption = match s["encryption"].as_object() {
                    Some(e) => tr(
                        "cli-store-encrypted",
                        &[
                            ("version", e["version"].as_str().unwrap_or("?")),
                            (
                                "mac",
                                &e["page_mac"].as_str().unwrap_or("?").replace('_', "-"),
                            ),
                        ],
                    ),
                    None => t("cli-store-not-encrypted"),
                };
                tr(
                    "cli-device-status",
                    &[
                        ("encryption", &encryption),
                        ("device", s["device"].as_str().unwrap_or("?")),
                        (
                            "server",
                            &s["server"]
                                .as_str()
                                .map_or_else(|| t("cli-not-enrolled"), str::to_string),
                        ),
                        ("unsynced", &s["unsynced_changes"].to_string()),
                        ("refused", &s["rejected_changes"].to_string()),
                    ],
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
        tr(
            "cli-synced",
            &[
                ("pushed", &r.pushed.to_string()),
                ("rejected", &r.rejected.to_string()),
                ("pulled", &(r.pulled + r.snapshot_records).to_string()),
                ("conflicts", &r.conflicts.to_string()),
                ("bytes", &r.bytes.to_string()),
                ("ms", &r.duration_ms.to_string()),
            ],
        )
    });
    Ok(())
}

/// `device new-key`: a fresh random key in a new file, readable by its owner only.
pub fn new_key(out: &Path, json: bool) -> CliResult {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .map_err(|e| super::file_error("--out", out, &e))?;
    std::io::Write::write_all(
        &mut file,
        format!("{}\n", StoreKey::generate().to_hex()).as_bytes(),
    )?;
    file.sync_all()?;
    output::one(json, &json!({"key_file": out}), |_| {
        tr("cli-new-key", &[("file", &out.display().to_string())])
    });
    Ok(())
}

/// `device export-unsynced`: from the store when it opens, else from a copy of its damaged
/// files (which are left as they are).
pub fn export_unsynced(store: &Path, options: &OpenOptions, out: &Path, json: bool) -> CliResult {
    let written = match Gridwork::open_with(store, options.clone()) {
        Ok(gw) => gw.export_unsynced(out)?,
        Err(CoreError::StoreDamaged(_)) => {
            gridwork_core::recovery::export_from_damaged(store, options.key.as_ref(), out)?
        }
        Err(e) => return Err(e.into()),
    };
    output::one(json, &json!({"export": out, "changes": written}), |_| {
        tr(
            "cli-exported-unsynced",
            &[
                ("changes", &written.to_string()),
                ("file", &out.display().to_string()),
            ],
        )
    });
    Ok(())
}

/// `device recover`.
pub fn recover(
    store: &Path,
    options: &OpenOptions,
    export: Option<PathBuf>,
    json: bool,
) -> CliResult {
    let export = export.unwrap_or_else(|| {
        let ms = (options.clock)();
        let mut name = store.as_os_str().to_owned();
        name.push(format!(".unsynced-{ms}.jsonl"));
        PathBuf::from(name)
    });
    let rec = gridwork_core::recover_store(store, options, Some(&export))?;
    output::one(json, &rec, |r| {
        let mut lines = vec![
            tr(
                "cli-recovered",
                &[
                    ("kept", &r.salvaged.to_string()),
                    ("unreadable", &r.unreadable.to_string()),
                ],
            ),
            tr(
                "cli-recovered-export",
                &[("file", &export.display().to_string())],
            ),
        ];
        for p in &r.moved_aside {
            lines.push(tr(
                "cli-recovered-kept-file",
                &[("file", &p.display().to_string())],
            ));
        }
        lines.push(if r.identity_kept {
            t("cli-recovered-sync")
        } else {
            t("cli-recovered-enroll")
        });
        lines.join("\n")
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn retention_cmd(args: &[&str]) -> DeviceCmd {
        let cli =
            Cli::try_parse_from([&["gridwork", "device", "retention"], args].concat()).unwrap();
        match cli.command {
            Command::Device(cmd @ DeviceCmd::Retention { .. }) => cmd,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn retention_is_shown_set_and_refused_past_ten_years_as_bad_input() {
        let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        device(&gw, retention_cmd(&[]), true).unwrap();
        assert_eq!(
            gw.tenant_retention_days().unwrap(),
            90,
            "shown, not changed"
        );

        device(&gw, retention_cmd(&["--days", "30"]), true).unwrap();
        assert_eq!(gw.tenant_retention_days().unwrap(), 30);

        let err = device(&gw, retention_cmd(&["--days", "3651"]), true).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(err.to_string().contains("tenant_retention_days"), "{err}");
        assert_eq!(gw.tenant_retention_days().unwrap(), 30);

        assert!(Cli::try_parse_from(["gridwork", "device", "retention", "--days", "-1"]).is_err());
    }
}
