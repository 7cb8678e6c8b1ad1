//! The terminal device's words, from the one catalogue (`gridwork-i18n`, ADR 0024): Chinese by
//! default, English with `--lang en` or `GRIDWORK_LANG=en`. `--json` output keeps the stable
//! codes (`received`, `rental`), never translated.

use gridwork_core::{Error as CoreError, SyncError, TransportError};
use gridwork_domain::scope::Denial;
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
        CliError::Sync(sync) => sync_error(sync),
        CliError::Usage(text) => text.clone(),
        CliError::Io(io) => tr("err-io", &[("reason", &io_reason(io))]),
    };
    tr("cli-error", &[("message", &message)])
}

/// A sync's error in words.
pub fn sync_error(e: &SyncError) -> String {
    match e {
        SyncError::Store(core) => core_error(core),
        SyncError::Transport(t) => transport(t),
        other => t(&format!("err-{}", other.code().replace('_', "-"))),
    }
}

/// What `gridwork demo` failed on, in words: the core's, the sync's and the system's errors by
/// their codes, the demo's own checks (already in words); anything else (the embedded
/// server's errors) in the demo's failure sentence with its detail.
pub fn demo_error(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(core) = e.downcast_ref::<CoreError>() {
        core_error(core)
    } else if let Some(sync) = e.downcast_ref::<SyncError>() {
        sync_error(sync)
    } else if let Some(net) = e.downcast_ref::<TransportError>() {
        transport(net)
    } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
        tr("err-io", &[("reason", &io_reason(io))])
    } else if let Some(words) = e.downcast_ref::<DemoFailure>() {
        words.0.clone()
    } else {
        tr("demo-failed", &[("detail", &e.to_string())])
    }
}

/// A check of the demo's own that failed, in words.
#[derive(Debug)]
pub struct DemoFailure(pub String);

impl std::fmt::Display for DemoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemoFailure {}

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
/// a refused change) in the output language: the rule's [`Denial`] found again from its
/// sentence, shown by its code (`deny-` and the code) with its parts (a role, a record kind, a
/// step) in words. A reason no rule of this version gives (a newer server's) is shown as given.
pub fn deny(reason: &str) -> String {
    let Some(denial) = Denial::parse(reason) else {
        return reason.to_string();
    };
    denial_words(&denial)
}

/// A [`Denial`] in the output language.
pub fn denial_words(denial: &Denial) -> String {
    denial.words(gridwork_i18n::current())
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

/// A sync transport's error in words: what happened by its code. A server's error answer is
/// shown by its stable code (`srv-` and the code, docs/sync-protocol.md) with the status and
/// the code itself; the server's own message is English for an engineer, so it is shown only
/// in English (ADR 0035's addendum). The connection's reason (a system's or TLS library's
/// words) stays as detail in both languages.
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
                ("what", &server_code(code)),
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

/// A sync server's error code (`too_many_ops`) in words: `srv-` and the code, else the words
/// of an unknown error.
pub fn server_code(code: &str) -> String {
    let lang = gridwork_i18n::current();
    lang.get(&format!("srv-{}", code.replace('_', "-")))
        .unwrap_or_else(|| lang.t("srv-unknown"))
}

/// The system's reason for a failed file operation, by its kind where the catalogue has
/// words for it (`io-not-found`), else the system's text.
pub fn io_reason(e: &std::io::Error) -> String {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => Some("io-not-found"),
        std::io::ErrorKind::PermissionDenied => Some("io-permission-denied"),
        std::io::ErrorKind::AlreadyExists => Some("io-already-exists"),
        std::io::ErrorKind::IsADirectory => Some("io-is-a-directory"),
        std::io::ErrorKind::NotADirectory => Some("io-not-a-directory"),
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
        // Every denial the rules give (each code with each role, kind and step), in both
        // languages: Chinese words with no English left, and English with no Chinese.
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let all = Denial::all();
        for lang in Lang::ALL {
            gridwork_i18n::set_current(lang);
            for d in &all {
                let key = format!("deny-{}", d.code().replace('_', "-"));
                assert!(lang.has(&key), "{key} in {lang:?}");
                let shown = deny(&d.to_string());
                assert!(!shown.contains('{'), "{shown}");
                match lang {
                    Lang::Zh => {
                        assert!(cjk(&shown), "{d:?}: {shown}");
                        assert!(
                            !shown.chars().any(|c| c.is_ascii_alphabetic()),
                            "English left in {d:?}: {shown}"
                        );
                    }
                    Lang::En => assert!(!cjk(&shown), "{d:?}: {shown}"),
                }
            }
        }
        gridwork_i18n::set_current(Lang::Zh);
        assert_eq!(
            deny("this household is outside your grid(s)"),
            "该住户不在你的网格范围内"
        );
        assert_eq!(
            deny("only the command centre may accept a case"),
            "只有指挥中心可以对案件执行“签收”"
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
            deny("only the command centre may accept a case"),
            "only the command centre may accept a case"
        );
        gridwork_i18n::set_current(Lang::Zh);
    }

    #[test]
    fn a_servers_error_is_shown_by_its_code_and_its_english_message_only_in_english() {
        // Every error code of the protocol's tables has words in both languages.
        let protocol = include_str!("../../docs/sync-protocol.md");
        let mut codes = vec![];
        for line in protocol.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() > 3
                && cells[1].starts_with(|c: char| c.is_ascii_digit())
                && cells[2].starts_with('`')
            {
                for code in cells[2].split(',') {
                    let code = code.trim().trim_matches('`');
                    if code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        codes.push(code.to_string());
                    }
                }
            }
        }
        assert!(
            codes.len() > 25,
            "the protocol's codes were read: {codes:?}"
        );
        for code in &codes {
            let key = format!("srv-{}", code.replace('_', "-"));
            for lang in Lang::ALL {
                assert!(lang.has(&key), "{key} in {lang:?}");
            }
        }
        let message = "a push of 501 operations; at most 500";
        let e = TransportError::Server {
            status: 413,
            code: "too_many_ops".into(),
            message: message.into(),
        };
        gridwork_i18n::set_current(Lang::Zh);
        assert_eq!(
            transport(&e),
            "服务器拒绝了请求：一次上传的修改太多（413 too_many_ops）"
        );
        let odd = TransportError::Server {
            status: 418,
            code: "teapot".into(),
            message: "I am a teapot".into(),
        };
        assert_eq!(
            transport(&odd),
            "服务器拒绝了请求：服务器出错（418 teapot）"
        );
        let revoked = TransportError::Unauthorized("token revoked".into());
        assert_eq!(transport(&revoked), "服务器不接受本设备的凭据：请重新注册");
        let slow = TransportError::RateLimited {
            retry_after_s: 3,
            message: "too many requests from this device".into(),
        };
        assert_eq!(transport(&slow), "服务器要求等待 3 秒后再试");
        gridwork_i18n::set_current(Lang::En);
        assert_eq!(
            transport(&e),
            format!("the server answered 413 too_many_ops: {message}")
        );
        assert!(transport(&revoked).contains("(token revoked)"));
        assert!(transport(&slow).contains("(too many requests from this device)"));
        gridwork_i18n::set_current(Lang::Zh);
    }

    #[test]
    fn the_demo_and_soak_say_nothing_in_english_of_their_own() {
        // Their failures are catalogue keys (`demo-fail-…`, `soak-…`): no English sentence
        // made into an error in their source.
        for (name, source) in [
            ("demo/day.rs", include_str!("demo/day.rs")),
            ("demo/mod.rs", include_str!("demo/mod.rs")),
            ("demo/cast.rs", include_str!("demo/cast.rs")),
            ("commands/soak.rs", include_str!("commands/soak.rs")),
        ] {
            for english in [
                "Err(\"",
                "ok_or(\"",
                "Usage(format!(",
                "Usage(\n",
                "e.to_string()",
            ] {
                assert!(!source.contains(english), "{name} has {english:?}");
            }
        }
        for key in [
            "demo-failed",
            "demo-fail-seed",
            "demo-fail-enrolled",
            "demo-fail-check-in-accepted",
            "demo-fail-household-accepted",
            "demo-fail-escalation-accepted",
            "demo-fail-arrival",
            "demo-fail-not-refused",
            "demo-fail-refused-stayed",
            "soak-bad-tag-or-seed",
            "soak-no-buildings",
        ] {
            for lang in Lang::ALL {
                assert!(lang.has(key), "{key} in {lang:?}");
            }
        }
        gridwork_i18n::set_current(Lang::Zh);
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(demo_error(&io), "读写失败：文件不存在");
        let own = DemoFailure(t("demo-fail-arrival"));
        assert_eq!(demo_error(&own), "演示失败：没有记录到场");
        let other = std::fmt::Error;
        assert!(demo_error(&other).starts_with("演示失败："));
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
