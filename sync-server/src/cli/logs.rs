//! The server's log output: standard error (standard output carries the `listening on` line and
//! admin output), `RUST_LOG` to choose levels (default `info`), as text for a person or as one
//! JSON object per line for a log collector (`--log-format json`). Either way no line carries
//! a name, phone, ID number, code or token (`http/request_log.rs`).

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-03T10:00:00Z  INFO request{method=POST path=/v1/push}: push accepted=3`
    Text,
    /// `{"timestamp":"…","level":"INFO","fields":{"message":"push","accepted":3},"span":{…}}`
    Json,
}

/// Installs the subscriber for `format`.
pub fn init(format: LogFormat) {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    match format {
        LogFormat::Text => {
            // Colours only on a terminal: a log file or journald gets plain `key=value` fields.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .init();
        }
        LogFormat::Json => {
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(filter())
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr)
                .init();
        }
    }
}
