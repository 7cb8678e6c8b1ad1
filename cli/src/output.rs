//! Printing results: aligned tables for people, JSON (`--json`) for scripts. Tables pad by
//! display width so Chinese text lines up.

use std::io::Write;

use serde::Serialize;

/// Writes a line to standard output. When the reader has gone (a closed pipe), the process
/// ends at once, quietly and successfully: what it was printing is no longer wanted.
pub fn write_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Terminal columns a string takes (CJK characters take two).
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if (c as u32) >= 0x1100 && is_wide(c) {
                2
            } else {
                1
            }
        })
        .sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6)
}

/// Prints `rows` as a table under `header`, or as a JSON array of `items` with `--json`.
pub fn list<T: Serialize>(
    json: bool,
    items: &[T],
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".into())
        );
        return;
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    let header: Vec<String> = header.iter().map(|h| crate::i18n::header(h)).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(width(cell));
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i].saturating_sub(width(cell)) + 2));
            }
        }
        outln!("{}", out.trim_end());
    };
    line(header);
    for r in rows {
        line(r);
    }
    if items.is_empty() {
        outln!("{}", crate::i18n::t("cli-none"));
    }
}

/// Prints one result: JSON with `--json`, else the human line.
pub fn one<T: Serialize>(json: bool, item: &T, human: impl FnOnce(&T) -> String) {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(item).unwrap_or_else(|_| "{}".into())
        );
    } else {
        outln!("{}", human(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_count_two_columns() {
        assert_eq!(width("梅花碑3幢"), 9);
        assert_eq!(width("2-301"), 5);
    }
}
