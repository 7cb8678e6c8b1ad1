//! The terminal device's words, from the one catalogue (`gridwork-i18n`, ADR 0024): Chinese by
//! default, English with `--lang en` or `GRIDWORK_LANG=en`. `--json` output keeps the stable
//! codes (`received`, `rental`), never translated.

use gridwork_core::{Error as CoreError, SyncError, TransportError};
use gridwork_domain::workflow::{CaseState, TransitionError};
pub use gridwork_i18n::{Lang, t, tr};

use crate::commands::CliError;

/// The catalogue key of a table header: `col-` and its English words joined by dashes
/// ("address code" → `col-address-code`, "yours (lost)" → `col-yours-lost`).
pub fn header_key(header: &str) -> String {
    format!("col-{}", slug(header))
}

/// A table header in the output language.
pub fn header(header: &str) -> String {
    let key = header_key(header);
    debug_assert!(
        Lang::Zh.has(&key) && Lang::En.has(&key),
        "the header {header:?} has no {key} in the catalogue"
    );
    gridwork_i18n::current()
        .get(&key)
        .unwrap_or_else(|| header.to_string())
}

/// A stable code (`rental`, `hazard`) as words: the catalogue's `PREFIX-CODE`, else the code.
pub fn code(prefix: &str, stable: &str) -> String {
    gridwork_i18n::current()
        .get(&format!("{prefix}-{stable}"))
        .unwrap_or_else(|| stable.to_string())
}

/// A user's role in words: `网格员`, `gridworker`.
pub fn role(r: gridwork_domain::sync::Role) -> String {
    match gridwork_i18n::current() {
        Lang::Zh => gridwork_domain::model::Term::zh(r).to_string(),
        Lang::En => r.as_str().to_string(),
    }
}

/// A case's state in words, with the line of defence of a dispute's.
pub fn state(s: &CaseState) -> String {
    let words = code("state", s.as_str());
    match s.level() {
        Some(level) => format!("{words}（{}）", code("level", level.as_str())),
        None => words,
    }
}

/// A response policy in words: its name and minutes (`1-3-10（接收 1 · 响应 3 · 到场 10 分钟；火警到场 5 分钟）`).
pub fn policy(p: &gridwork_domain::workflow::ResponsePolicy) -> String {
    let minutes = |ms: u64| {
        let m = ms as f64 / 60_000.0;
        if m.fract() == 0.0 {
            format!("{m:.0}")
        } else {
            format!("{m:.1}")
        }
    };
    let back = p
        .report_back_ms
        .map(|ms| tr("cli-policy-report-back", &[("minutes", &minutes(ms))]))
        .unwrap_or_default();
    tr(
        "cli-policy-summary",
        &[
            ("name", &p.name),
            ("receive", &minutes(p.receive_ms)),
            ("respond", &minutes(p.respond_ms)),
            ("on_scene", &minutes(p.on_scene_ms)),
            ("back", &back),
            ("fire", &minutes(p.fire_arrival_target_ms)),
        ],
    )
}

use gridwork_i18n::slug;

/// What the user is shown for an error, all in the output language: the core's and the sync's
/// errors by their stable codes (`err-` and the code, ADR 0039), a refused value by its field
/// and reason (always with the field's stable name), a refused step by the case's kind, state
/// and the step. Never a personal value: the core's errors carry none. What a message may add
/// in English is technical detail for an engineer (SQLite's or the system's words, a server's
/// reason), never the sentence itself.
pub fn error(e: &CliError) -> String {
    let message = match e {
        CliError::Core(core) => core_error(core),
        CliError::Sync(SyncError::Store(core)) => core_error(core),
        CliError::Sync(SyncError::Transport(t)) => transport(t),
        CliError::Sync(other) => t(&format!("err-{}", other.code().replace('_', "-"))),
        CliError::Usage(text) => text.clone(),
        CliError::Io(io) => tr("err-io", &[("reason", &io_reason(io))]),
    };
    tr("cli-error", &[("message", &message)])
}

/// A core error in words.
pub fn core_error(e: &CoreError) -> String {
    let key = format!("err-{}", e.code().replace('_', "-"));
    match e {
        CoreError::Invalid(v) => gridwork_i18n::invalid_input(&v.field, &v.problem),
        CoreError::Transition(te) => tr(&key, &[("message", &transition(te))]),
        CoreError::NotAllowed(why) => tr(&key, &[("message", &deny(why))]),
        CoreError::NotFound { kind, id } => {
            tr(&key, &[("kind", &code("record", &slug(kind))), ("id", id)])
        }
        CoreError::NewerSchema { found, supported } => tr(
            &key,
            &[
                ("found", &found.to_string()),
                ("supported", &supported.to_string()),
            ],
        ),
        CoreError::StoreDamaged(detail) => tr(&key, &[("detail", detail)]),
        CoreError::Clock(c) => tr(&key, &[("detail", &c.to_string())]),
        CoreError::Decode(d) => tr(&key, &[("detail", &d.to_string())]),
        CoreError::Sqlite(s) => tr(&key, &[("detail", &s.to_string())]),
        CoreError::Attachment(detail) => tr(&key, &[("detail", detail)]),
        CoreError::File { action, source } => {
            tr(&key, &[("action", action), ("reason", &io_reason(source))])
        }
        CoreError::WrongKey | CoreError::KeyRequired | CoreError::NotEncrypted => t(&key),
    }
}

/// A permission rule's reason (the domain's `Decision::Deny`, the same words the server gives
/// a refused change) in the output language: a fixed reason by its key (`deny-` and its words,
/// [`slug`]), the rules' two formed sentences ("this household is outside your grid(s)", "a
/// gridworker may not change a station") from their parts; any other reason as the rule gave it.
pub fn deny(reason: &str) -> String {
    let lang = gridwork_i18n::current();
    if let Some(words) = lang.get(&format!("deny-{}", slug(reason))) {
        return words;
    }
    let record = |kind: &str| code("record", kind);
    if let Some((kind, whose)) = reason
        .strip_prefix("this ")
        .and_then(|r| r.split_once(" is outside "))
        && let Some(whose) = lang.get(&format!("deny-whose-{}", slug(whose)))
    {
        return tr(
            "deny-outside",
            &[("kind", &record(kind)), ("whose", &whose)],
        );
    }
    if let Some((role, kind)) = reason
        .strip_prefix("a ")
        .and_then(|r| r.split_once(" may not change a "))
        && let Some(role) = lang.get(&format!("deny-role-{}", slug(role)))
    {
        return tr(
            "deny-role-kind",
            &[("role", &role), ("kind", &record(kind))],
        );
    }
    if let Some(role) = reason
        .strip_prefix("a ")
        .and_then(|r| r.strip_suffix(" may not delete records (archive them instead)"))
        && let Some(role) = lang.get(&format!("deny-role-{}", slug(role)))
    {
        return tr("deny-no-delete", &[("role", &role)]);
    }
    reason.to_string()
}

/// Why a step was refused, from the error's parts: the case's kind, its state, the step.
pub fn transition(e: &TransitionError) -> String {
    let kind = code("kind", e.kind().as_str());
    let state = state(&e.state());
    let step = code("step", e.action());
    let args = |more: &[(&'static str, String)]| {
        let mut all = vec![
            ("kind", kind.clone()),
            ("state", state.clone()),
            ("step", step.clone()),
        ];
        all.extend(more.iter().cloned());
        all
    };
    let (key, args) = match e {
        TransitionError::NotAStep { .. } => ("err-step-not-a-step", args(&[])),
        TransitionError::AlreadyDone { .. } => ("err-step-already-done", args(&[])),
        TransitionError::WrongState { .. } => ("err-step-wrong-state", args(&[])),
        TransitionError::NotUpward { from, to, .. } => (
            "err-step-not-upward",
            args(&[
                ("from", code("level", from.as_str())),
                ("to", code("level", to.as_str())),
            ]),
        ),
        TransitionError::SkipsALine { from, to, next, .. } => (
            "err-step-skips-a-line",
            args(&[
                ("from", code("level", from.as_str())),
                ("to", code("level", to.as_str())),
                ("next", code("level", next.as_str())),
            ]),
        ),
        TransitionError::WrongLevel { level, .. } => (
            "err-step-wrong-level",
            args(&[("level", code("level", level.as_str()))]),
        ),
        TransitionError::EmptyText { field, .. } => (
            "err-step-empty-text",
            args(&[("field", code("detail", field))]),
        ),
    };
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tr(key, &args)
}

/// A sync transport's error in words: what happened by its code, with the server's status and
/// code or the connection's reason as detail.
pub fn transport(e: &TransportError) -> String {
    let key = format!("err-{}", e.code().replace('_', "-"));
    match e {
        TransportError::Unreachable(d)
        | TransportError::Unauthorized(d)
        | TransportError::BadAnswer(d)
        | TransportError::Tls(d) => tr(&key, &[("detail", d)]),
        TransportError::Server {
            status,
            code,
            message,
        } => tr(
            &key,
            &[
                ("status", &status.to_string()),
                ("code", code),
                ("detail", message),
            ],
        ),
        TransportError::RateLimited {
            retry_after_s,
            message,
        } => tr(
            &key,
            &[("seconds", &retry_after_s.to_string()), ("detail", message)],
        ),
    }
}

/// The system's reason for a failed file operation, by its kind where the catalogue has
/// words for it (`io-not-found`), else the system's text.
pub fn io_reason(e: &std::io::Error) -> String {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => Some("io-not-found"),
        std::io::ErrorKind::PermissionDenied => Some("io-permission-denied"),
        std::io::ErrorKind::AlreadyExists => Some("io-already-exists"),
        std::io::ErrorKind::IsADirectory => Some("io-is-a-directory"),
        std::io::ErrorKind::InvalidData => Some("io-invalid-data"),
        _ => None,
    };
    kind.map(t).unwrap_or_else(|| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_the_commands_print_is_in_the_catalogue() {
        // The headers of every `output::list` in `commands/`, read from the source.
        let sources = [
            include_str!("commands/cases.rs"),
            include_str!("commands/device.rs"),
            include_str!("commands/field.rs"),
            include_str!("commands/records.rs"),
        ];
        let mut seen = 0;
        for src in sources {
            let mut rest = src;
            while let Some(at) = rest.find("output::list(") {
                rest = &rest[at..];
                let open = rest.find("&[").expect("a header array");
                let close = open + rest[open..].find(']').expect("its end");
                for h in rest[open + 2..close].split(',') {
                    let h = h.trim().trim_matches('"');
                    if h.is_empty() {
                        continue;
                    }
                    let key = header_key(h);
                    for lang in Lang::ALL {
                        assert!(lang.has(&key), "{key} ({h:?}) is missing in {lang:?}");
                    }
                    seen += 1;
                }
                rest = &rest[close..];
            }
        }
        assert!(seen > 40, "the headers were found: {seen}");
    }

    #[test]
    fn the_permission_rules_reasons_have_chinese_words() {
        // The rules' fixed reasons and their formed sentences, as the domain writes them (a
        // reworded rule fails here until the catalogue follows).
        let source = include_str!("../../core/domain/src/scope/permission.rs");
        let fixed = [
            "areas are managed by an admin",
            "a building head may report hazards, not other cases",
            "a fire crew only adds steps to the alarms dispatched to its station",
            "a mediator only adds steps to the disputes they work",
            "a building head may add notes and photos but not change a case's status",
            "this case is not an alarm dispatched to your station",
            "this case is not a dispute escalated to your line of defence in your area",
            "a building head may register only residents of its own building's households",
        ];
        for reason in fixed {
            assert!(source.contains(&format!("\"{reason}\"")), "{reason:?}");
            let key = format!("deny-{}", slug(reason));
            assert!(Lang::Zh.has(&key), "{key}");
            assert_eq!(Lang::En.t(&key), reason, "{key}");
        }
        for formed in [
            "\"this {} is outside {whose}\"",
            "\"a {} may not change a {}\"",
            "\"a {} may not delete records (archive them instead)\"",
            "\"your grid(s)\"",
            "\"your building(s)\"",
            "\"your subdistrict\"",
            "\"your areas\"",
            "\"building head\"",
            "\"fire crew\"",
        ] {
            assert!(source.contains(formed), "{formed}");
        }
        gridwork_i18n::set_current(Lang::Zh);
        assert_eq!(
            deny("this household is outside your grid(s)"),
            "该住户不在你的网格范围内"
        );
        assert_eq!(
            deny("a gridworker may not change a station"),
            "网格员不能修改微型消防站"
        );
        assert_eq!(
            deny("a building head may not delete records (archive them instead)"),
            "楼长不能删除记录（请改为归档）"
        );
        assert_eq!(deny("areas are managed by an admin"), "区域由管理员管理");
        assert_eq!(deny("a reason of no rule"), "a reason of no rule");
        gridwork_i18n::set_current(Lang::En);
        assert_eq!(
            deny("this household is outside your grid(s)"),
            "this household is outside your grid(s)"
        );
        assert_eq!(
            deny("a gridworker may not change a station"),
            "a gridworker may not change a station"
        );
        gridwork_i18n::set_current(Lang::Zh);
    }

    #[test]
    fn the_reasons_of_the_validation_rules_have_chinese_words() {
        let problems = [
            gridwork_domain::validate::ResidentId::parse("f", "110105194912310021")
                .unwrap_err()
                .problem,
            gridwork_domain::validate::Phone::parse("f", "12345")
                .unwrap_err()
                .problem,
        ];
        for p in problems {
            let key = format!("why-{}", slug(&p));
            assert!(Lang::Zh.has(&key), "{key}");
            assert_eq!(Lang::En.t(&key), p, "the English is the rule's own words");
        }
    }
}
