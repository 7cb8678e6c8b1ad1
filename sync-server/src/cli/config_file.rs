//! `serve --config FILE`: the flags of `serve` from a TOML file, one key per flag, named as the
//! flag without its dashes (`listen = "10.0.0.11:8080"`, `trusted-proxy = ["10.0.0.0/24"]`,
//! `max-connections = 4000`). A value given on the command line wins over the environment
//! variable of its flag, which wins over the file, which wins over the default.
//!
//! The file is turned into command-line arguments ([`config_args`]) that clap parses with the
//! rest, so a value from the file is checked exactly as the same flag typed would be, and its
//! error names the flag. A key that is no flag of `serve` is refused with the list of those
//! that are.

use std::ffi::OsString;
use std::path::Path;

/// A flag of `serve` that a file may set: its long name, and the environment variable that
/// also sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub long: String,
    pub env: Option<String>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the configuration file {path} is not valid TOML: {reason}")]
    Toml { path: String, reason: String },
    #[error("`{key}` in the configuration file is not a flag of `serve`; known: {known}")]
    UnknownKey { key: String, known: String },
    #[error(
        "`{key}` in the configuration file must be a string, number, true/false or a list of those"
    )]
    BadValue { key: String },
}

/// Reads `path` and makes the arguments it stands for (see [`config_args`]).
pub fn read(
    path: &Path,
    flags: &[Flag],
    given: &dyn Fn(&Flag) -> bool,
) -> Result<Vec<OsString>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        reason: super::io_reason(&e),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Toml {
            path: path.display().to_string(),
            reason: e.message().to_string(),
        })?;
    config_args(&table, flags, given)
}

/// The arguments `--flag value` for every key of `table` whose flag is not `given` already (on
/// the command line or by its environment variable). A list gives the flag once per element;
/// `true` gives the bare flag, `false` nothing.
pub fn config_args(
    table: &toml::Table,
    flags: &[Flag],
    given: &dyn Fn(&Flag) -> bool,
) -> Result<Vec<OsString>, ConfigError> {
    let mut args = Vec::new();
    for (key, value) in table {
        let Some(flag) = flags.iter().find(|f| f.long == *key) else {
            let known: Vec<&str> = flags.iter().map(|f| f.long.as_str()).collect();
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                known: known.join(", "),
            });
        };
        if given(flag) {
            continue;
        }
        let values = match value {
            toml::Value::Array(items) => items.iter().collect::<Vec<_>>(),
            single => vec![single],
        };
        for v in values {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(true) => {
                    args.push(OsString::from(format!("--{key}")));
                    continue;
                }
                toml::Value::Boolean(false) => continue,
                _ => return Err(ConfigError::BadValue { key: key.clone() }),
            };
            args.push(OsString::from(format!("--{key}")));
            args.push(OsString::from(text));
        }
    }
    Ok(args)
}

/// Whether `flag` appears in `args` (`--flag value` or `--flag=value`).
pub fn on_command_line(args: &[OsString], flag: &Flag) -> bool {
    let bare = format!("--{}", flag.long);
    let with_value = format!("{bare}=");
    args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == bare || a.starts_with(&with_value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Vec<Flag> {
        [
            "listen",
            "trusted-proxy",
            "max-connections",
            "db",
            "verbose",
        ]
        .iter()
        .map(|l| Flag {
            long: l.to_string(),
            env: Some(format!("GRIDWORK_{}", l.to_uppercase().replace('-', "_"))),
        })
        .collect()
    }

    fn args(text: &str, given: &dyn Fn(&Flag) -> bool) -> Result<Vec<String>, ConfigError> {
        let table: toml::Table = text.parse().unwrap();
        Ok(config_args(&table, &flags(), given)?
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect())
    }

    #[test]
    fn keys_become_flags_and_lists_repeat_them() {
        let got = args(
            r#"
            listen = "10.0.0.11:8080"
            trusted-proxy = ["10.0.0.0/24", "192.168.5.5"]
            max-connections = 4000
            verbose = true
            "#,
            &|_| false,
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "--listen",
                "10.0.0.11:8080",
                "--max-connections",
                "4000",
                "--trusted-proxy",
                "10.0.0.0/24",
                "--trusted-proxy",
                "192.168.5.5",
                "--verbose"
            ]
        );
    }

    #[test]
    fn what_the_command_line_or_environment_gives_wins() {
        let got = args(
            "listen = \"10.0.0.11:8080\"\ndb = \"/var/lib/gridwork/server.db\"",
            &|f| f.long == "listen",
        )
        .unwrap();
        assert_eq!(got, ["--db", "/var/lib/gridwork/server.db"]);
        let cli: Vec<OsString> = ["serve", "--listen=127.0.0.1:1"].map(Into::into).to_vec();
        assert!(on_command_line(&cli, &flags()[0]));
        assert!(!on_command_line(&cli, &flags()[1]));
    }

    #[test]
    fn an_unknown_key_or_a_table_is_refused_by_name() {
        let err = args("lisen = \"x\"", &|_| false).unwrap_err();
        assert!(err.to_string().contains("`lisen`"), "{err}");
        assert!(err.to_string().contains("listen"), "{err}");
        let err = args("[listen]\nport = 1", &|_| false).unwrap_err();
        assert!(matches!(err, ConfigError::BadValue { .. }), "{err}");
    }
}
