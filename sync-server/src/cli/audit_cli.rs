//! `gridwork-server audit verify|list`, the service-account admin commands, and the audit entry
//! every admin command leaves (who ran it, when, what it changed; never a personal value).

use clap::Subcommand;
use gridwork_domain::ids::Id;
use uuid::Uuid;

use super::{Admin, Store};
use crate::audit::{self, AuditAction, AuditFact, AuditFilter, Verdict};
use crate::storage::Storage;
use crate::{auth, clock};

#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Check the whole chain: exits with an error naming the first entry removed or altered;
    /// otherwise prints the number of entries and the head hash (note it elsewhere: a log cut
    /// short later no longer ends with it).
    Verify {
        #[command(flatten)]
        store: Store,
        /// The head hash noted earlier: also fail when the log no longer contains it.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// Check every patrol's chain of visits: prints each patrol whose visits were removed,
    /// inserted or back-dated after the fact (and exits with an error), or how many verify.
    Patrols {
        #[command(flatten)]
        store: Store,
    },
    /// List entries, oldest first: seq, time, actor, action, record, reason.
    List {
        #[command(flatten)]
        store: Store,
        /// Entries about this resident (or any record) id.
        #[arg(long, alias = "record")]
        resident: Option<String>,
        /// Entries by this actor (a user, device or service account id; `admin:` for the
        /// admin commands).
        #[arg(long)]
        actor: Option<String>,
        /// The kind of entry: read_id_number, export, admin_change or refused.
        #[arg(long, visible_alias = "kind", value_parser = parse_action)]
        action: Option<AuditAction>,
        /// Entries at or after this time: ms since the epoch, a date (`2026-12-01`, China
        /// time) or an RFC 3339 time.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: Option<u64>,
        /// Entries before this time (as `--since`).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        until: Option<u64>,
        /// The page before this entry: the `--before` a full page names.
        #[arg(long, value_name = "SEQ")]
        before: Option<u64>,
        /// At most this many (the newest of those picked), oldest first.
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

impl Audit {
    pub fn store(&self) -> &Store {
        match self {
            Audit::Verify { store, .. } | Audit::List { store, .. } | Audit::Patrols { store } => {
                store
            }
        }
    }
}

/// A time as ms since the epoch, a date in China time, or an RFC 3339 time.
fn parse_time(s: &str) -> Result<u64, String> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let ms = day
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis()
            - 8 * 3_600_000;
        return u64::try_from(ms).map_err(|_| gridwork_i18n::t("server-audit-before-1970"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .ok_or_else(|| gridwork_i18n::t("server-audit-time"))
}

fn parse_action(s: &str) -> Result<AuditAction, String> {
    AuditAction::parse(s).ok_or_else(|| {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        gridwork_i18n::tr("cli-expected-one-of", &[("choices", &names.join(", "))])
    })
}

pub async fn run<S: Storage>(storage: &S, audit: Audit) -> Result<(), Box<dyn std::error::Error>> {
    match audit {
        Audit::Verify { expect_head, .. } => {
            let entries = storage.all_audit().await?;
            match audit::verify(&entries) {
                Verdict::Intact { entries: n, head } => {
                    if let Some(expected) = expect_head
                        && !entries.iter().any(|e| e.hash == expected)
                    {
                        return Err(gridwork_i18n::tr(
                            "server-audit-head-missing",
                            &[("head", &expected)],
                        )
                        .into());
                    }
                    outln!(
                        "{}",
                        gridwork_i18n::tr(
                            "server-audit-verified",
                            &[("entries", &n.to_string()), ("head", &head)]
                        )
                    );
                    Ok(())
                }
                Verdict::Broken { seq, problem } => Err(gridwork_i18n::tr(
                    "server-audit-broken",
                    &[("seq", &seq.to_string()), ("problem", &problem.to_string())],
                )
                .into()),
            }
        }
        Audit::Patrols { .. } => {
            use gridwork_domain::op::EntityKind;
            use gridwork_domain::workflow::patrol_chain::ChainVerdict;
            let mut records = Vec::new();
            let mut after = None;
            loop {
                let page = storage.record_rows(None, after, 1000).await?;
                after = page.records.last().map(|r| r.state.id);
                records.extend(
                    page.records
                        .into_iter()
                        .map(|r| r.state)
                        .filter(|s| matches!(s.kind, EntityKind::Patrol | EntityKind::PatrolVisit)),
                );
                if !page.more || after.is_none() {
                    break;
                }
            }
            let checks = audit::verify_patrols(&records);
            let (mut intact, mut unchained, mut broken) = (0, 0, 0);
            for c in &checks {
                match &c.verdict {
                    ChainVerdict::Intact => intact += 1,
                    ChainVerdict::Unchained => unchained += 1,
                    ChainVerdict::Broken { visit, problem } => {
                        broken += 1;
                        let at = visit.map_or_else(|| "-".to_string(), |v| v.to_string());
                        outln!(
                            "{}\t{}\t{at}\t{problem}",
                            c.patrol,
                            gridwork_i18n::t("server-patrol-flagged")
                        );
                    }
                }
            }
            outln!(
                "{}",
                gridwork_i18n::tr(
                    "server-patrols-summary",
                    &[
                        ("intact", &intact.to_string()),
                        ("broken", &broken.to_string()),
                        ("unchained", &unchained.to_string()),
                    ],
                )
            );
            if broken > 0 {
                return Err(gridwork_i18n::tr(
                    "server-patrols-flagged",
                    &[("broken", &broken.to_string())],
                )
                .into());
            }
            Ok(())
        }
        Audit::List {
            resident,
            actor,
            action,
            since,
            until,
            before,
            limit,
            json,
            ..
        } => {
            // One more than asked: whether there is a page before this one.
            let filter = AuditFilter {
                target_id: resident,
                actor,
                action,
                since_ms: since,
                until_ms: until,
                before_seq: before,
                limit: if limit == 0 { 0 } else { limit + 1 },
            };
            let mut entries = storage.find_audit(filter).await?;
            let more = limit > 0 && entries.len() > limit;
            if more {
                entries.remove(0);
            }
            if entries.is_empty() && !json {
                eprintln!("{}", gridwork_i18n::t("server-audit-none"));
            }
            for e in &entries {
                if json {
                    outln!("{}", serde_json::to_string(e)?);
                } else {
                    let when = chrono::DateTime::from_timestamp_millis(e.fact.at_ms as i64)
                        .map_or_else(|| e.fact.at_ms.to_string(), |t| t.to_rfc3339());
                    outln!(
                        "{}\t{}\t{}\t{}\t{}:{}\t{}",
                        e.seq,
                        when,
                        e.fact.actor,
                        e.fact.action.as_str(),
                        e.fact.target_kind.as_deref().unwrap_or("-"),
                        e.fact.target_id.as_deref().unwrap_or("-"),
                        e.fact.reason
                    );
                }
            }
            if more && let Some(first) = entries.first() {
                // On standard error: the listing itself stays one entry per line.
                eprintln!(
                    "{}",
                    gridwork_i18n::tr("server-audit-more", &[("seq", &first.seq.to_string())])
                );
            }
            Ok(())
        }
    }
}

/// Who runs an admin command: the login of the shell (an admin command runs on the server's
/// machine, by someone logged in to it).
pub(crate) fn admin_actor() -> String {
    let login = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("admin:{login}")
}

/// What an admin command changes, for its audit entry: the record's kind and id, and the
/// command (no names: a user's name is personal).
fn describe(admin: &Admin) -> Option<(&'static str, Option<String>, String)> {
    Some(match admin {
        Admin::CreateUser { role, scope, .. } => (
            "user",
            None,
            format!(
                "create-user (role {}, {} scope entries)",
                role.as_str(),
                scope.len()
            ),
        ),
        Admin::SetScope { user, scope, .. } => (
            "user",
            Some(user.to_string()),
            format!("set-scope ({} scope entries)", scope.len()),
        ),
        Admin::EnrollmentCode { user, .. } => {
            ("user", Some(user.to_string()), "enrollment-code".into())
        }
        Admin::RevokeDevice { device, .. } => {
            ("device", Some(device.to_string()), "revoke-device".into())
        }
        Admin::CreateServiceAccount { area, .. } => (
            "service_account",
            None,
            format!("create-service-account (area {area})"),
        ),
        Admin::RevokeServiceAccount { account, .. } => (
            "service_account",
            Some(account.to_string()),
            "revoke-service-account".into(),
        ),
        Admin::ListDevices { .. } | Admin::ListServiceAccounts { .. } => return None,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// Appends the audit entry of an operator's change made outside `admin` (`area`, `import`).
pub async fn record_admin_change<S: Storage>(
    storage: &S,
    kind: &'static str,
    target: Option<String>,
    reason: String,
) -> Result<(), Box<dyn std::error::Error>> {
    storage
        .append_audit(AuditFact {
            at_ms: clock::now_ms(),
            actor: admin_actor(),
            action: AuditAction::AdminChange,
            target_kind: Some(kind.into()),
            target_id: target,
            reason,
            fact_id: None,
        })
        .await?;
    Ok(())
}

/// Runs an admin command and, when it changed something, appends its audit entry.
pub async fn audited<S: Storage>(
    storage: &S,
    admin: Admin,
) -> Result<(), Box<dyn std::error::Error>> {
    let described = describe(&admin);
    super::run_admin(storage, admin).await?;
    if let Some((kind, target, reason)) = described {
        storage
            .append_audit(AuditFact {
                at_ms: clock::now_ms(),
                actor: admin_actor(),
                action: AuditAction::AdminChange,
                target_kind: Some(kind.into()),
                target_id: target,
                reason,
                fact_id: None,
            })
            .await?;
    }
    Ok(())
}

/// The service-account commands of `admin`.
pub async fn service_admin<S: Storage>(
    storage: &S,
    admin: Admin,
) -> Result<(), Box<dyn std::error::Error>> {
    match admin {
        Admin::CreateServiceAccount { name, area, .. } => {
            if name.trim().is_empty() {
                return Err(gridwork_i18n::t("server-name-empty").into());
            }
            let id: Id = Uuid::now_v7();
            let user = storage
                .create_user(
                    format!("service: {}", name.trim()),
                    gridwork_domain::sync::Role::Dispatcher,
                    vec![area],
                )
                .await?;
            let token = auth::new_token(id);
            storage
                .store_service_account(
                    id,
                    user.id,
                    name.trim().to_string(),
                    auth::hash_token(&token),
                    clock::now_ms(),
                )
                .await?;
            outln!("{id}\t{token}");
        }
        Admin::RevokeServiceAccount { account, .. } => {
            if !storage
                .revoke_service_account(account, clock::now_ms())
                .await?
            {
                return Err(gridwork_i18n::tr(
                    "server-no-service-account",
                    &[("account", &account.to_string())],
                )
                .into());
            }
            outln!(
                "{}",
                gridwork_i18n::tr("admin-revoked", &[("device", &account.to_string())])
            );
        }
        Admin::ListServiceAccounts { .. } => {
            for a in storage.list_service_accounts().await? {
                let state = if a.revoked {
                    gridwork_i18n::t("admin-device-revoked")
                } else {
                    gridwork_i18n::t("admin-device-active")
                };
                let area = a
                    .user
                    .scope
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let callback = a.callback.as_ref().map_or("-", |c| c.url.as_str());
                outln!("{}\t{state}\t{area}\t{callback}\t{}", a.id, a.name);
            }
        }
        _ => return Err("not a service-account command".into()),
    }
    Ok(())
}
