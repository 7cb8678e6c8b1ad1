//! `gridwork-i18n`: the one message catalogue of gridwork (ADR 0024).
//!
//! Everything gridwork prints for people — the terminal device's states, headers and messages,
//! the operator CLI's lines, the weekly brief's headings — comes from the Fluent files in
//! `core/i18n/locales/` (`zh.ftl`, `en.ftl`), compiled into the binaries. Chinese is the
//! default; English is chosen with `--lang en` or `GRIDWORK_LANG=en`. What goes over the wire
//! and through the bindings stays a stable code (`received`, `rental`, `bad_request`): the app
//! localizes those itself.
//!
//! ```
//! use gridwork_i18n::Lang;
//! assert_eq!(Lang::Zh.t("state-received"), "已受理");
//! assert_eq!(Lang::En.t("state-received"), "received");
//! assert_eq!(Lang::En.tr("cli-error", &[("message", "x")]), "error: x");
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

#[cfg(feature = "clap")]
pub mod usage;

/// The Chinese catalogue, as shipped.
pub const ZH_FTL: &str = include_str!("../locales/zh.ftl");
/// The English catalogue, as shipped.
pub const EN_FTL: &str = include_str!("../locales/en.ftl");

/// The environment variable that picks the language when `--lang` is not given.
pub const LANG_VAR: &str = "GRIDWORK_LANG";

/// A language gridwork speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// Parses a language tag as people and locales write it: `zh`, `zh-CN`, `zh_CN.UTF-8`,
    /// `中文`, `en`, `en-US`, `en_GB.UTF-8`, `English` (case does not matter).
    pub fn parse(text: &str) -> Option<Lang> {
        let t = text.trim().to_ascii_lowercase();
        let base = t.split(['-', '_', '.']).next().unwrap_or("");
        match base {
            "zh" | "cn" | "chinese" | "中文" => Some(Lang::Zh),
            "en" | "english" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language `GRIDWORK_LANG` names, Chinese when it is unset or names no language
    /// gridwork speaks.
    pub fn from_env() -> Lang {
        std::env::var(LANG_VAR)
            .ok()
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    /// The short tag: `zh` or `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The message `key`. A key missing from the catalogue is a bug (the catalogue test checks
    /// every key the code uses in both languages): it shows as the key itself, never panics.
    pub fn t(self, key: &str) -> String {
        self.tr(key, &[])
    }

    /// The message `key` with its variables (`{ $name }`) filled in.
    pub fn tr(self, key: &str, args: &[(&str, &str)]) -> String {
        let bundle = bundle(self);
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (name, value) in args {
            fargs.set(*name, FluentValue::from(*value));
        }
        let mut errors = vec![];
        bundle
            .format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }

    /// The message `key` if the catalogue has it.
    pub fn get(self, key: &str) -> Option<String> {
        self.has(key).then(|| self.t(key))
    }

    /// The attribute `attribute` of the message `key` (`.long` below `help-…`), if the
    /// catalogue has it.
    pub fn attribute(self, key: &str, attribute: &str) -> Option<String> {
        let bundle = bundle(self);
        let pattern = bundle.get_message(key)?.get_attribute(attribute)?.value();
        let mut errors = vec![];
        Some(
            bundle
                .format_pattern(pattern, None, &mut errors)
                .into_owned(),
        )
    }

    /// Whether the catalogue has `key` in this language.
    pub fn has(self, key: &str) -> bool {
        bundle(self).has_message(key)
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Sets the language of this process's output (the CLI does it once, from `--lang` or
/// `GRIDWORK_LANG`).
pub fn set_current(lang: Lang) {
    CURRENT.store(
        match lang {
            Lang::Zh => 0,
            Lang::En => 1,
        },
        Ordering::Relaxed,
    );
}

/// The language of this process's output (Chinese unless [`set_current`] said otherwise).
pub fn current() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::En,
        _ => Lang::Zh,
    }
}

/// [`Lang::t`] in the [`current`] language.
pub fn t(key: &str) -> String {
    current().t(key)
}

/// [`Lang::tr`] in the [`current`] language.
pub fn tr(key: &str, args: &[(&str, &str)]) -> String {
    current().tr(key, args)
}

/// A refused value in words (`err-invalid-input`): the field's words with its stable name
/// (`身份证号 (resident.id_number)`) and the reason, from `field-…` and `why-…` (a rule's English
/// words made a key, [`slug`]); a field or reason the catalogue lacks is shown as given. Used by
/// both command lines for the domain's validation errors, which never carry the value.
pub fn invalid_input(field: &str, problem: &str) -> String {
    let lang = current();
    let (field, reason) = field_and_reason(lang, field, problem);
    lang.tr(
        "err-invalid-input",
        &[("field", field.as_str()), ("reason", reason.as_str())],
    )
}

/// A refused value's field and reason in `lang` (as [`invalid_input`] shows them), joined:
/// `身份证号 (resident.id_number)：校验位不符`.
pub fn invalid_value_in(lang: Lang, field: &str, problem: &str) -> String {
    let (field, reason) = field_and_reason(lang, field, problem);
    lang.tr(
        "invalid-value",
        &[("field", field.as_str()), ("reason", reason.as_str())],
    )
}

fn field_and_reason(lang: Lang, field: &str, problem: &str) -> (String, String) {
    let field = match lang.get(&format!("field-{}", field.replace('.', "-"))) {
        Some(words) => format!("{words} ({field})"),
        None => field.to_string(),
    };
    let reason = lang
        .get(&format!("why-{}", slug(problem)))
        .unwrap_or_else(|| problem.to_string());
    (field, reason)
}

/// Lower-case words joined by dashes, anything else dropped: `"ID number"` → `"id-number"`.
pub fn slug(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The keys of a catalogue file, in file order (for the test that both languages have the
/// same keys).
pub fn keys_of(ftl: &str) -> Vec<&str> {
    ftl.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect()
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static ZH: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    let (cell, ftl) = match lang {
        Lang::Zh => (&ZH, ZH_FTL),
        Lang::En => (&EN, EN_FTL),
    };
    cell.get_or_init(|| {
        let id: unic_langid::LanguageIdentifier = lang.tag().parse().expect("a valid tag");
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Terminal output and Markdown: no Unicode isolation marks around variables.
        bundle.set_use_isolating(false);
        let resource = FluentResource::try_new(ftl.to_string()).unwrap_or_else(|(_, errors)| {
            panic!("the {} catalogue parses: {errors:?}", lang.tag())
        });
        bundle.add_resource(resource).unwrap_or_else(|errors| {
            panic!("the {} catalogue has duplicates: {errors:?}", lang.tag())
        });
        bundle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_both_languages_and_every_message_formats() {
        let zh = keys_of(ZH_FTL);
        let en = keys_of(EN_FTL);
        assert!(
            zh.len() > 100,
            "the catalogue has its messages: {}",
            zh.len()
        );
        let missing_en: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        let missing_zh: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(missing_zh.is_empty(), "missing in zh.ftl: {missing_zh:?}");
        for key in &zh {
            for lang in Lang::ALL {
                assert!(lang.has(key), "{key} does not load in {}", lang.tag());
                let text = lang.t(key);
                assert!(!text.trim().is_empty(), "{key} is empty in {}", lang.tag());
            }
        }
    }

    #[test]
    fn the_chinese_messages_are_chinese_and_the_english_ones_are_not() {
        let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for key in ["state-received", "col-address", "cli-none", "brief-title"] {
            assert!(cjk(&Lang::Zh.t(key)), "{key}: {}", Lang::Zh.t(key));
            assert!(!cjk(&Lang::En.t(key)), "{key}: {}", Lang::En.t(key));
        }
    }

    #[test]
    fn languages_are_parsed_as_locales_write_them() {
        for (text, lang) in [
            ("zh", Lang::Zh),
            ("zh-CN", Lang::Zh),
            ("zh_CN.UTF-8", Lang::Zh),
            ("中文", Lang::Zh),
            ("EN", Lang::En),
            ("en_US.UTF-8", Lang::En),
            ("english", Lang::En),
        ] {
            assert_eq!(Lang::parse(text), Some(lang), "{text}");
        }
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::parse(""), None);
    }

    #[test]
    fn variables_are_filled_in_without_isolation_marks() {
        let text = Lang::Zh.tr("cli-error", &[("message", "无此楼栋")]);
        assert_eq!(text, "错误：无此楼栋");
        assert_eq!(Lang::En.t("no-such-key"), "no-such-key");
    }
}
