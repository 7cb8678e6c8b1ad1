//! `gridwork-server admin console-password`: sets the password a dispatcher or an admin signs
//! in to the web console with (issue 23). The password is read from standard input (one line),
//! never from the command line, and kept only as an Argon2id hash; setting it ends the user's
//! console sessions. The change is written to the audit log (by user id, never the password).

use std::io::BufRead;

use crate::audit::{AuditAction, AuditFact};
use crate::clock;
use crate::console::{actions, auth};
use crate::storage::Storage;

/// Sets `user`'s console password to the first line of `input`.
pub async fn set_password<S: Storage>(
    storage: &S,
    user: gridwork_domain::ids::Id,
    input: impl BufRead,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(stored) = storage.user(user).await? else {
        return Err(gridwork_i18n::tr("admin-no-user", &[("user", &user.to_string())]).into());
    };
    if !actions::console_role(stored.role) {
        return Err(gridwork_i18n::tr(
            "server-console-role",
            &[("role", &crate::cli::role_words(stored.role))],
        )
        .into());
    }
    let mut line = String::new();
    input.take(4096).read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if auth::check_new_password(password).is_err() {
        // The rule's words in the output language (the web console keeps its own English).
        return Err(if password.chars().any(char::is_control) {
            gridwork_i18n::t("server-password-control")
        } else {
            gridwork_i18n::tr(
                "server-password-short",
                &[("min", &auth::MIN_PASSWORD_CHARS.to_string())],
            )
        }
        .into());
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password)).await??;
    let now = clock::now_ms();
    storage.set_console_password(user, hash, now).await?;
    storage
        .append_audit(AuditFact {
            at_ms: now,
            actor: super::audit_cli::admin_actor(),
            action: AuditAction::AdminChange,
            target_kind: Some("user".into()),
            target_id: Some(user.to_string()),
            reason: "admin console-password".into(),
            fact_id: None,
        })
        .await?;
    outln!(
        "{}",
        gridwork_i18n::tr("admin-console-password-set", &[("user", &user.to_string())])
    );
    Ok(())
}
