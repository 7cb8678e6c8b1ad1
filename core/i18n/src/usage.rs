//! The command lines' usage errors and `--help` headings from the catalogue (feature `clap`).
//!
//! clap writes its own messages in English (`error: unexpected argument '--x' found`). Both
//! command lines (`gridwork`, `gridwork-server`) parse with [`parse`] instead: the language is
//! taken from `--lang` or `GRIDWORK_LANG` before clap runs (the parse may fail before it reads
//! `--lang`), the help's headings are set from the catalogue ([`localize`]), and an error is
//! written by [`Catalogue`]: the words of the error's kind (`usage-*` keys) around what clap
//! found (the argument, the value, the valid values), then the usage line and where to read
//! more. The exit codes stay clap's: 2 for a usage error, 0 for `--help` and `--version`.
//!
//! A value that is no UUID (a record's id) is refused in our words without the value (it may be
//! a personal value typed in the wrong place); one that is no integer or no number gets our
//! words for why. What stays English: clap's `[default: …]`, `[env: …]`, `[possible values:
//! …]` marks in `--help`.

use std::ffi::OsString;
use std::fmt::Write as _;

use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, Error, ErrorFormatter, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::Lang;

/// The language a command line asks for: the value of `--lang X` or `--lang=X` among `args`,
/// else `GRIDWORK_LANG`, else Chinese. Read before clap parses, so that its errors are in that
/// language too.
pub fn lang_of_args(args: &[OsString]) -> Lang {
    let mut given = None;
    let mut it = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--lang" {
            given = it.next().map(str::to_string);
        } else if let Some(v) = a.strip_prefix("--lang=") {
            given = Some(v.to_string());
        }
    }
    given
        .and_then(|v| Lang::parse(&v))
        .unwrap_or_else(Lang::from_env)
}

/// Parses `args` with `command` (localized by [`localize`]) in the language they ask for, set as
/// the process's language ([`crate::set_current`]). On a usage error, or for `--help` and
/// `--version`, prints what clap would (through [`Catalogue`]) and ends the process with clap's
/// exit code.
pub fn parse(command: Command, args: Vec<OsString>) -> ArgMatches {
    let lang = lang_of_args(&args);
    crate::set_current(lang);
    localize(command, lang)
        .try_get_matches_from(args)
        .unwrap_or_else(|e| e.apply::<Catalogue>().exit())
}

/// An error clap raised after parsing (`FromArgMatches`), written like the others.
pub fn exit(error: Error) -> ! {
    error.apply::<Catalogue>().exit()
}

/// The display order of `-h` and `-V`: after every other option.
const HELP_LAST: usize = 1_000_000;

/// `command` and all its subcommands with the help's headings (用法, 命令, 参数, 选项), the
/// help and version flags' descriptions, and every command's and flag's description in `lang`
/// ([`description_key`]).
pub fn localize(command: Command, lang: Lang) -> Command {
    let path = command.get_name().to_string();
    localize_at(command, lang, path)
}

/// The catalogue key of a description: `help-` and the command's path (`help-gridwork-case-act`),
/// with `--` and the argument's id for a flag or positional (`help-gridwork-case-act--level`).
pub fn description_key(path: &str, arg: Option<&str>) -> String {
    match arg {
        Some(id) => format!("help-{path}--{id}"),
        None => format!("help-{path}"),
    }
}

/// A description a command line has: its catalogue key and the English words of the source
/// (the doc comment), if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub key: String,
    pub english: Option<String>,
    /// The source's long help (`--help`; a doc comment of several paragraphs), whose words are
    /// the catalogue's attribute [`LONG`] of `key`.
    pub long_english: Option<String>,
}

/// The attribute of a description's message that holds its long help (`--help`, where `-h`
/// shows the short one): `help-gridwork-server-serve` and below it `.long = …`.
pub const LONG: &str = "long";

/// Every command and argument of `command`'s tree (hidden ones too; not clap's help and version
/// flags) with its description key and English words.
pub fn descriptions(command: &Command) -> Vec<Description> {
    fn walk(command: &Command, path: &str, out: &mut Vec<Description>) {
        out.push(Description {
            key: description_key(path, None),
            english: command.get_about().map(|a| a.to_string()),
            long_english: command.get_long_about().map(|a| a.to_string()),
        });
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            out.push(Description {
                key: description_key(path, Some(id)),
                english: arg.get_help().map(|h| h.to_string()),
                long_english: arg.get_long_help().map(|h| h.to_string()),
            });
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path}-{}", sub.get_name()), out);
        }
    }
    let mut out = vec![];
    walk(command, command.get_name(), &mut out);
    out
}

/// What is wrong with `command`'s descriptions (empty when nothing is): a command or flag
/// without Chinese words (or whose Chinese has no Chinese character), without English words, or
/// whose English is not the source's own; a `--help` in Chinese that still shows a source's
/// English description (every command's help is rendered).
pub fn description_problems(command: &Command) -> Vec<String> {
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let mut problems = vec![];
    let all = descriptions(command);
    for d in &all {
        match Lang::Zh.get(&d.key) {
            Some(zh) if cjk(&zh) => {}
            Some(zh) => problems.push(format!("{}: no Chinese in {zh:?}", d.key)),
            None => problems.push(format!("{}: no Chinese description", d.key)),
        }
        match (Lang::En.get(&d.key), &d.english) {
            (None, _) => problems.push(format!("{}: no English description", d.key)),
            (Some(en), Some(source)) if &en != source => problems.push(format!(
                "{}: the English {en:?} is not the source's {source:?}",
                d.key
            )),
            _ => {}
        }
        // The long help (several paragraphs): in both languages from the catalogue, the
        // English the source's own; none in the catalogue where the source has none.
        let zh_long = Lang::Zh.attribute(&d.key, LONG);
        let en_long = Lang::En.attribute(&d.key, LONG);
        match &d.long_english {
            Some(source) => {
                match &zh_long {
                    Some(zh) if cjk(zh) => {}
                    Some(zh) => problems.push(format!("{}.{LONG}: no Chinese in {zh:?}", d.key)),
                    None => problems.push(format!("{}.{LONG}: no Chinese long help", d.key)),
                }
                match &en_long {
                    Some(en) if en == source => {}
                    Some(en) => problems.push(format!(
                        "{}.{LONG}: the English {en:?} is not the source's {source:?}",
                        d.key
                    )),
                    None => problems.push(format!("{}.{LONG}: no English long help", d.key)),
                }
            }
            None => {
                if zh_long.is_some() || en_long.is_some() {
                    problems.push(format!("{}.{LONG} describes no long help", d.key));
                }
            }
        }
    }
    fn helps(command: &mut Command, out: &mut Vec<(String, String)>) {
        out.push((
            command.get_name().to_string(),
            command.render_help().to_string(),
        ));
        out.push((
            format!("{} (--help)", command.get_name()),
            command.render_long_help().to_string(),
        ));
        for sub in command.get_subcommands_mut() {
            helps(sub, out);
        }
    }
    let mut rendered = vec![];
    helps(&mut localize(command.clone(), Lang::Zh), &mut rendered);
    for (name, help) in &rendered {
        for d in &all {
            let zh = Lang::Zh.get(&d.key);
            let english = d.english.as_deref();
            if let Some(english) = english.filter(|e| e.len() >= 12 && zh.as_deref() != Some(e))
                && help.contains(english)
            {
                problems.push(format!("`{name} --help` shows {english:?} in Chinese"));
            }
            // Each paragraph of a long help, which Chinese must not show either.
            for paragraph in d.long_english.iter().flat_map(|l| l.split("\n\n")) {
                let paragraph = paragraph.lines().next().unwrap_or_default().trim();
                if paragraph.len() >= 12 && !cjk(paragraph) && help.contains(paragraph) {
                    problems.push(format!("`{name}` shows {paragraph:?} in Chinese"));
                }
            }
        }
    }
    problems
}

/// A description in `lang`: the catalogue's words; in English the source's own words are kept
/// (with their longer paragraphs) and the catalogue fills only what the source lacks.
fn described(lang: Lang, key: &str, source: Option<&StyledStr>) -> Option<String> {
    if lang == Lang::En && source.is_some() {
        return None;
    }
    lang.get(key)
}

fn localize_at(command: Command, lang: Lang, path: String) -> Command {
    let mut command = command;
    let key = description_key(&path, None);
    if let Some(words) = described(lang, &key, command.get_about()) {
        command = command.about(words).long_about(None);
    }
    // The long help (`--help`) from the catalogue in either language.
    if let Some(words) = lang.attribute(&key, LONG) {
        command = command.long_about(words);
    }
    let here = path.clone();
    command = command.mut_args(|a| {
        let key = description_key(&here, Some(a.get_id().as_str()));
        let a = match described(lang, &key, a.get_help()) {
            Some(words) => a.help(words).long_help(None),
            None => a,
        };
        match lang.attribute(&key, LONG) {
            Some(words) => a.long_help(words),
            None => a,
        }
    });
    let has_version = command.get_version().is_some();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{}{{usage}}\n\n{{all-args}}{{after-help}}",
        heading(lang)
    );
    let options = lang.t("usage-options");
    let arguments = lang.t("usage-arguments");
    // Positionals keep the order they are given in (a heading of our own would sort them by
    // name otherwise).
    let mut position = 0;
    let mut command = command
        .help_template(template)
        .subcommand_help_heading(lang.t("usage-commands"))
        .disable_help_flag(true)
        .mut_args(|a| {
            if a.get_help_heading().is_some() {
                a
            } else if a.is_positional() {
                position += 1;
                a.help_heading(arguments.clone()).display_order(position)
            } else {
                a.help_heading(options.clone())
            }
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(lang.t("usage-help-flag"))
                .help_heading(options.clone())
                // Last, where clap puts its own.
                .display_order(HELP_LAST),
        );
    if has_version {
        command = command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(lang.t("usage-version-flag"))
                .help_heading(options)
                .display_order(HELP_LAST + 1),
        );
    }
    command.mut_subcommands(move |sub| {
        let path = format!("{path}-{}", sub.get_name());
        localize_at(sub, lang, path)
    })
}

/// `用法：` (no space after the full-width colon) or `Usage: `.
fn heading(lang: Lang) -> String {
    let words = lang.t("usage-heading");
    if words.ends_with('：') {
        words
    } else {
        format!("{words} ")
    }
}

/// clap's error formatter with the catalogue's words, in the process's language.
#[derive(Debug)]
pub struct Catalogue;

impl ErrorFormatter for Catalogue {
    fn format_error(error: &Error<Self>) -> StyledStr {
        let mut text = render(error, crate::current());
        text.push('\n');
        let mut styled = StyledStr::new();
        styled.push_str(&text);
        styled
    }
}

/// The whole text of a usage error in `lang`: `错误：` and what is wrong, the hints, the usage
/// line, where to read more.
pub fn render<F: ErrorFormatter>(error: &Error<F>, lang: Lang) -> String {
    let mut out = lang.tr("usage-error", &[("message", &message(error, lang))]);
    let mut hinted = false;
    for (kind, what) in [
        (ContextKind::SuggestedSubcommand, "usage-a-subcommand"),
        (ContextKind::SuggestedArg, "usage-an-argument"),
        (ContextKind::SuggestedValue, "usage-a-value"),
    ] {
        if let Some(v) = error.get(kind) {
            let list = quoted(v);
            if !list.is_empty() {
                out.push_str(if hinted { "\n" } else { "\n\n" });
                hinted = true;
                let _ = write!(
                    out,
                    "  {}",
                    lang.tr(
                        "usage-did-you-mean",
                        &[("what", &lang.t(what)), ("list", &list)]
                    )
                );
            }
        }
    }
    if let Some(ContextValue::StyledStrs(tips)) = error.get(ContextKind::Suggested) {
        for tip in tips {
            out.push_str(if hinted { "\n" } else { "\n\n" });
            hinted = true;
            let _ = write!(
                out,
                "  {}",
                lang.tr("usage-tip", &[("tip", &tip.to_string())])
            );
        }
    }
    if let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage.trim_start();
        let usage = usage.strip_prefix("Usage:").unwrap_or(usage).trim_start();
        let _ = write!(out, "\n\n{}{usage}", heading(lang));
    }
    let _ = write!(out, "\n\n{}", lang.t("usage-more"));
    out
}

/// What is wrong, in words: the catalogue's `usage-*` message of the error's kind.
fn message<F: ErrorFormatter>(error: &Error<F>, lang: Lang) -> String {
    let string = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(s)) if s.len() == 1 => Some(s[0].clone()),
        _ => None,
    };
    let number = |kind| match error.get(kind) {
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let list = |kind| match error.get(kind) {
        Some(ContextValue::Strings(s)) => s.join(", "),
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let arg = string(ContextKind::InvalidArg);
    let value = string(ContextKind::InvalidValue);
    match (error.kind(), arg.as_deref(), value.as_deref()) {
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            lang.tr("usage-unknown-argument", &[("arg", arg)])
        }
        (ErrorKind::InvalidSubcommand, _, _)
            if string(ContextKind::InvalidSubcommand).is_some() =>
        {
            let sub = string(ContextKind::InvalidSubcommand).unwrap_or_default();
            lang.tr("usage-unknown-subcommand", &[("name", &sub)])
        }
        (ErrorKind::InvalidValue, Some(arg), Some("")) => {
            lang.tr("usage-value-required", &[("arg", arg)])
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let mut text = lang.tr("usage-invalid-value", &[("arg", arg), ("value", value)]);
            let valid = list(ContextKind::ValidValue);
            if !valid.is_empty() {
                text.push_str(&lang.tr("usage-possible-values", &[("values", &valid)]));
            }
            text
        }
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(error);
            // A record's id that is no UUID: our words, without the value (it may be a
            // personal value typed in the wrong place, an ID number or a phone).
            if why.is_some_and(|w| w.is::<uuid::Error>()) {
                return lang.tr("usage-not-a-uuid", &[("arg", arg)]);
            }
            let mut text = lang.tr("usage-invalid-value", &[("arg", arg), ("value", value)]);
            if let Some(why) = why {
                let reason = if why.is::<std::num::ParseIntError>() {
                    lang.t("usage-not-an-integer")
                } else if why.is::<std::num::ParseFloatError>() {
                    lang.t("usage-not-a-number")
                } else {
                    why.to_string()
                };
                text.push_str(&lang.tr("usage-because", &[("reason", &reason)]));
            }
            text
        }
        (ErrorKind::MissingRequiredArgument, _, _) => lang.tr(
            "usage-missing-required",
            &[("args", &list(ContextKind::InvalidArg))],
        ),
        (ErrorKind::MissingSubcommand, _, _) => lang.tr(
            "usage-missing-subcommand",
            &[
                (
                    "command",
                    &string(ContextKind::InvalidSubcommand).unwrap_or_default(),
                ),
                ("subcommands", &list(ContextKind::ValidSubcommand)),
            ],
        ),
        (ErrorKind::ArgumentConflict, Some(arg), _) => {
            let prior = list(ContextKind::PriorArg);
            if prior == arg {
                lang.tr("usage-repeated", &[("arg", arg)])
            } else if prior.is_empty() {
                lang.tr("usage-conflict-others", &[("arg", arg)])
            } else {
                lang.tr("usage-conflict", &[("arg", arg), ("other", &prior)])
            }
        }
        (ErrorKind::TooManyValues, Some(arg), Some(value)) => {
            lang.tr("usage-too-many-values", &[("arg", arg), ("value", value)])
        }
        (ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues, Some(arg), _) => lang.tr(
            "usage-wrong-number-of-values",
            &[
                ("arg", arg),
                (
                    "expected",
                    &number(ContextKind::ExpectedNumValues)
                        .or_else(|| number(ContextKind::MinValues))
                        .unwrap_or_default(),
                ),
                (
                    "actual",
                    &number(ContextKind::ActualNumValues).unwrap_or_default(),
                ),
            ],
        ),
        (ErrorKind::NoEquals, Some(arg), _) => lang.tr("usage-no-equals", &[("arg", arg)]),
        (ErrorKind::InvalidUtf8, _, _) => lang.t("usage-invalid-utf8"),
        // A kind without its context (an error of ours raised through clap, I/O): clap's own
        // words of it, or its source.
        _ => std::error::Error::source(error)
            .map(|s| s.to_string())
            .or_else(|| error.kind().as_str().map(str::to_string))
            .unwrap_or_else(|| lang.t("usage-unknown")),
    }
}

fn quoted(v: &ContextValue) -> String {
    match v {
        ContextValue::String(s) => format!("'{s}'"),
        ContextValue::Strings(s) => s
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Command {
        Command::new("tool")
            .version("1.0")
            .subcommand(
                Command::new("case").subcommand(
                    Command::new("act")
                        .arg(Arg::new("id").required(true))
                        .arg(
                            Arg::new("level")
                                .long("level")
                                .value_parser(["grid", "community"]),
                        )
                        .arg(Arg::new("lat").long("lat").requires("lon"))
                        .arg(Arg::new("lon").long("lon")),
                ),
            )
            .subcommand_required(true)
    }

    fn error(lang: Lang, args: &[&str]) -> String {
        let e = localize(command(), lang)
            .try_get_matches_from(args)
            .expect_err("a usage error");
        assert_eq!(e.exit_code(), 2, "a usage error exits 2");
        render(&e, lang)
    }

    #[test]
    fn each_kind_of_usage_error_is_in_words_of_the_catalogue() {
        let cases: [(&[&str], &str, &str); 5] = [
            (
                &["tool", "case", "act", "x", "--bogus"],
                "错误：无法识别的参数 '--bogus'",
                "error: unexpected argument '--bogus'",
            ),
            (
                &["tool", "case", "act"],
                "错误：缺少必需的参数：<id>",
                "error: the following required arguments were not provided: <id>",
            ),
            (
                &["tool", "case", "act", "x", "--level", "city"],
                "错误：参数 '--level <level>' 的值 'city' 无效（可选值：grid, community）",
                "error: invalid value 'city' for '--level <level>' (possible values: grid, community)",
            ),
            (
                &["tool", "case", "act", "x", "--level"],
                "错误：参数 '--level <level>' 需要一个值",
                "error: a value is required for '--level <level>' but none was supplied",
            ),
            (
                &["tool", "cas"],
                "错误：无法识别的子命令 'cas'",
                "error: unrecognized subcommand 'cas'",
            ),
        ];
        for (args, zh, en) in cases {
            let shown = error(Lang::Zh, args);
            assert!(shown.starts_with(zh), "{args:?}: {shown}");
            // clap gives the usage line with most errors (not with an invalid value).
            if !args.contains(&"--level") {
                assert!(shown.contains("\n\n用法：tool "), "{shown}");
            }
            assert!(shown.ends_with("更多信息请运行 '--help'。"), "{shown}");
            assert!(!shown.contains("Usage:"), "{shown}");
            let shown = error(Lang::En, args);
            assert!(shown.starts_with(en), "{args:?}: {shown}");
            if !args.contains(&"--level") {
                assert!(shown.contains("\n\nUsage: tool "), "{shown}");
            }
        }
        let missing = error(Lang::Zh, &["tool", "case", "act", "x", "--lat", "30"]);
        assert!(
            missing.starts_with("错误：缺少必需的参数：--lon"),
            "{missing}"
        );
        // A value that is no UUID, no integer or no number: the catalogue's words, never the
        // parser's English; the value that is no UUID is not shown.
        let typed = || {
            Command::new("tool")
                .arg(
                    Arg::new("id")
                        .required(true)
                        .value_parser(clap::value_parser!(uuid::Uuid)),
                )
                .arg(
                    Arg::new("n")
                        .long("n")
                        .value_parser(clap::value_parser!(u32)),
                )
                .arg(
                    Arg::new("x")
                        .long("x")
                        .value_parser(clap::value_parser!(f64)),
                )
        };
        let typed_error = |lang: Lang, args: &[&str]| {
            let e = localize(typed(), lang)
                .try_get_matches_from(args)
                .expect_err("a usage error");
            render(&e, lang)
        };
        let id = uuid::Uuid::nil().to_string();
        for (args, zh, en) in [
            (
                vec!["tool", "110105194912310021"],
                "错误：参数 '<id>' 的值不是有效的编号（UUID，形如 01890000-0000-7000-8000-000000000000）",
                "error: the value of '<id>' is no valid id (a UUID, like 01890000-0000-7000-8000-000000000000)",
            ),
            (
                vec!["tool", &id, "--n", "x"],
                "错误：参数 '--n <n>' 的值 'x' 无效：不是整数",
                "error: invalid value 'x' for '--n <n>': not a whole number",
            ),
            (
                vec!["tool", &id, "--x", "y"],
                "错误：参数 '--x <x>' 的值 'y' 无效：不是数字",
                "error: invalid value 'y' for '--x <x>': not a number",
            ),
        ] {
            let shown = typed_error(Lang::Zh, &args);
            assert!(shown.starts_with(zh), "{shown}");
            assert!(!shown.contains("110105194912310021"), "{shown}");
            assert!(!shown.contains("invalid"), "{shown}");
            let shown = typed_error(Lang::En, &args);
            assert!(shown.starts_with(en), "{shown}");
        }
        let hint = error(Lang::Zh, &["tool", "case", "act", "x", "--leve", "grid"]);
        assert!(hint.contains("提示：类似的参数：'--level'"), "{hint}");
    }

    #[test]
    fn the_help_has_the_catalogue_headings() {
        let mut zh = localize(command(), Lang::Zh);
        let root = zh.render_help().to_string();
        assert!(root.contains("用法："), "{root}");
        // clap puts an ASCII colon after a section's heading.
        assert!(root.contains("命令:"), "{root}");
        assert!(root.contains("选项:"), "{root}");
        assert!(root.contains("显示帮助"), "{root}");
        assert!(root.contains("显示版本"), "{root}");
        assert!(
            root.find("显示帮助") < root.find("显示版本") && root.trim_end().ends_with("显示版本"),
            "the help and version flags last: {root}"
        );
        for english in ["Usage:", "Commands:", "Options:", "Print help"] {
            assert!(!root.contains(english), "{english}: {root}");
        }
        let act = zh
            .find_subcommand_mut("case")
            .and_then(|c| c.find_subcommand_mut("act"))
            .expect("case act")
            .render_help()
            .to_string();
        assert!(act.contains("参数:"), "{act}");
        let (id, level) = (act.find("<id>"), act.find("--level"));
        assert!(id.is_some() && level.is_some(), "{act}");
        let en = localize(command(), Lang::En).render_help().to_string();
        assert!(en.contains("Usage:") && en.contains("Options:"), "{en}");
    }

    #[test]
    fn the_long_help_comes_from_the_catalogue_in_both_languages() {
        // A command with a help of several paragraphs (`gridwork-server serve`'s words): `-h`
        // shows the short one and `--help` the long one, each from the catalogue.
        let english = Lang::En
            .attribute("help-gridwork-server-serve", LONG)
            .expect("the English long help");
        assert!(
            english.contains("\n\nWith --tls-cert"),
            "paragraphs kept: {english:?}"
        );
        let tool = || {
            Command::new("gridwork-server").subcommand(
                Command::new("serve")
                    .about("Serve the sync protocol.")
                    .long_about("Serve the sync protocol.\n\nSource words, not the catalogue's."),
            )
        };
        let long = |lang: Lang| {
            localize(tool(), lang)
                .find_subcommand_mut("serve")
                .expect("serve")
                .render_long_help()
                .to_string()
        };
        let zh = long(Lang::Zh);
        assert!(zh.contains("令牌和居民数据绝不能以明文穿过网络"), "{zh}");
        assert!(zh.contains("每分钟限额设为 0 即关闭该限制"), "{zh}");
        for english in ["Serve the sync protocol", "Source words", "TLS-terminating"] {
            assert!(!zh.contains(english), "{english} in Chinese: {zh}");
        }
        let en = long(Lang::En);
        assert!(en.contains("behind a TLS-terminating proxy"), "{en}");
        assert!(
            !en.contains("Source words"),
            "the catalogue's, not the source's: {en}"
        );
        let short = localize(tool(), Lang::Zh)
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_help()
            .to_string();
        assert!(short.contains("提供同步协议服务"), "{short}");
        assert!(
            !short.contains("令牌和居民数据"),
            "-h is the short help: {short}"
        );
        // A catalogue entry with no long help has no attribute.
        assert_eq!(
            Lang::Zh.attribute("help-gridwork-server-serve--db", LONG),
            None
        );
    }

    #[test]
    fn the_language_is_read_from_the_arguments_before_the_environment() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(lang_of_args(&args(&["x", "--lang", "en", "y"])), Lang::En);
        assert_eq!(
            lang_of_args(&args(&["x", "y", "--lang=en_US.UTF-8"])),
            Lang::En
        );
        assert_eq!(lang_of_args(&args(&["x", "--lang", "zh", "--x"])), Lang::Zh);
        // After `--`, `--lang` is a value, not the flag.
        assert_eq!(
            lang_of_args(&args(&["x", "--lang", "zh", "--", "--lang", "en"])),
            Lang::Zh
        );
    }
}
