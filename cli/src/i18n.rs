//! The terminal device's words, from the one catalogue (`gridwork-i18n`, ADR 0024): Chinese by
//! default, English with `--lang en` or `GRIDWORK_LANG=en`. `--json` output keeps the stable
//! codes (`received`, `rental`), never translated.

use gridwork_core::Error as CoreError;
use gridwork_domain::workflow::CaseState;
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

/// Lower-case words joined by dashes, anything else dropped: `"ID number"` → `"id-number"`.
fn slug(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// What the user is shown for an error: in the output language where the catalogue has the
/// words (the field and reason of a refused value, always with the field's stable name), the
/// core's English text otherwise. Never a personal value: the core's messages carry none.
pub fn error(e: &CliError) -> String {
    let message = match e {
        CliError::Core(CoreError::Invalid(v)) => {
            let field_key = format!("field-{}", v.field.replace('.', "-"));
            let field = match gridwork_i18n::current().get(&field_key) {
                Some(words) => format!("{words} ({})", v.field),
                None => v.field.clone(),
            };
            let reason = gridwork_i18n::current()
                .get(&format!("why-{}", slug(&v.problem)))
                .unwrap_or_else(|| v.problem.clone());
            tr(
                "cli-invalid-input",
                &[("field", field.as_str()), ("reason", reason.as_str())],
            )
        }
        CliError::Core(CoreError::Transition(t)) => {
            tr("cli-not-allowed-now", &[("message", &t.to_string())])
        }
        CliError::Core(CoreError::NotAllowed(why)) => tr("cli-not-allowed", &[("message", why)]),
        CliError::Core(CoreError::NotFound { kind, id }) => tr(
            "cli-not-found",
            &[("kind", &code("record", kind)), ("id", id)],
        ),
        other => other.to_string(),
    };
    tr("cli-error", &[("message", &message)])
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
