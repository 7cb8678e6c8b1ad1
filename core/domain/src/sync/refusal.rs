//! A server's refusal of a pushed change in words for people, at the edge: the wire carries the
//! stable code (`forbidden`, `invalid`, `clock_ahead`, `malformed`, `wrong_device`) and the
//! server's English reason, which never repeats a value; [`refusal_words`] says it in the reader's
//! language from the one catalogue (`refusal-` and the code, ADR 0046). In Chinese the reason is
//! found again where it is a rule's (a permission rule's [`Denial`], a validation rule's field and
//! problem) and left out where it is an engineer's detail; in English it is kept as given.

use gridwork_i18n::Lang;

use crate::scope::permission::Denial;

/// The refusal with `code` and the server's `message` in `lang`.
pub fn refusal_words(code: &str, message: &str, lang: Lang) -> String {
    let key = format!("refusal-{}", code.replace('_', "-"));
    if lang == Lang::En {
        return match code {
            "forbidden" | "invalid" | "wrong_device" | "clock_ahead" | "malformed" => {
                lang.tr(&key, &[("reason", message)])
            }
            _ => message.to_string(),
        };
    }
    match code {
        "forbidden" => match Denial::parse(message) {
            Some(denial) => lang.tr(&key, &[("reason", &denial.words(lang))]),
            None => lang.t("refusal-forbidden-other"),
        },
        "invalid" => match validation_parts(message) {
            Some((field, problem)) => lang.tr(
                &key,
                &[(
                    "reason",
                    &gridwork_i18n::invalid_value_in(lang, field, problem),
                )],
            ),
            None => lang.t("refusal-invalid-other"),
        },
        "wrong_device" | "clock_ahead" | "malformed" => lang.tr(&key, &[("reason", "")]),
        other => lang.tr("refusal-other", &[("code", other)]),
    }
}

/// A validation error's field and problem from its text (`household.unit: …`, as
/// [`crate::validate::ValidationError`] writes it), when the text is one: the field is a
/// record's field name (`kind.field`, no spaces).
fn validation_parts(message: &str) -> Option<(&str, &str)> {
    let (field, problem) = message.split_once(": ")?;
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let (kind, name) = field.split_once('.')?;
    (is_name(kind) && is_name(name)).then_some((field, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn each_code_is_in_chinese_words_and_english_keeps_the_servers_reason() {
        let outside = "this household is outside your building(s)";
        assert_eq!(
            refusal_words("forbidden", outside, Lang::Zh),
            "你的角色或区域不允许：该住户不在你的楼栋范围内"
        );
        assert_eq!(
            refusal_words("forbidden", outside, Lang::En),
            format!("not allowed for your role or area: {outside}")
        );
        let taken = "household.unit: the unit is already registered in this building";
        let zh = refusal_words("invalid", taken, Lang::Zh);
        assert!(zh.starts_with("修改的值被拒绝："), "{zh}");
        assert!(zh.contains("household.unit"), "{zh}");
        assert_eq!(
            refusal_words("invalid", taken, Lang::En),
            format!("a value was refused: {taken}")
        );
        for (code, message) in [
            ("forbidden", "a rule of a newer server"),
            (
                "invalid",
                "a field of the household has the wrong type or shape",
            ),
            (
                "wrong_device",
                "the operation was stamped by another device",
            ),
            ("clock_ahead", "stamped 900 s ahead of the server's clock"),
            ("malformed", "record x is a case, not a household"),
            ("teapot", "I am a teapot"),
        ] {
            let zh = refusal_words(code, message, Lang::Zh);
            assert!(cjk(&zh), "{code}: {zh}");
            assert!(
                !zh.contains(message) && !zh.contains("ahead") && !zh.contains('{'),
                "no English detail in Chinese: {zh}"
            );
            let en = refusal_words(code, message, Lang::En);
            assert!(en.contains(message), "{code}: {en}");
            assert!(!cjk(&en), "{code}: {en}");
        }
        assert!(refusal_words("teapot", "x", Lang::Zh).contains("teapot"));
    }
}
