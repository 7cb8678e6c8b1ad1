//! `gridwork-bench compare`: a before-and-after of two builds on one machine, in turns.
//!
//! A full run's figures drift between runs hours apart by more than most changes move them
//! (docs/benchmarks.md, Eleventh round: the raw commit alone went from 50,140 to 53,519/s
//! between two full runs of the same afternoon). So a change is measured against the build
//! before it in one time window, the two taking turns: turn 0 runs the baseline, then this
//! build; turn 1 this build, then the baseline; and so on. Each side is a process of its own
//! running `all --only …` into a folder of its own; the comparison pairs their figures by
//! scenario and name and reports, for each, both sides' median over the turns (with min and
//! max) and how this build differs, for the figure and for its ratio to the same run's
//! reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// One side of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Baseline,
    This,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::This => "this",
        }
    }
}

/// What to compare and how (`gridwork-bench compare`'s arguments).
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The gridwork-bench binary of the code before (copy it aside before rebuilding).
    #[arg(long)]
    pub baseline: PathBuf,
    /// The scenarios to compare (repeatable; as for `all`).
    #[arg(long, required = true, value_parser = clap::builder::PossibleValuesParser::new(crate::SCENARIOS))]
    pub only: Vec<String>,
    /// Turns: each runs both builds, the baseline first in even turns.
    #[arg(long, default_value_t = 2)]
    pub turns: usize,
    /// Small sizes (the figures mean nothing; to try the comparison itself).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the comparison and each run's folder.
    #[arg(long)]
    pub out: PathBuf,
    /// The PostgreSQL server for the server-load and city scenarios.
    #[arg(long, env = crate::postgres::TEST_DATABASE_URL_VAR)]
    pub postgres: Option<String>,
    /// As for `all`.
    #[arg(long)]
    pub alarm_upload: bool,
}

/// Runs the turns, then writes `compare.md` and `compare.json` into `out`.
pub fn run(options: &Options) -> Result<PathBuf, String> {
    if options.turns == 0 {
        return Err("--turns must be at least 1".into());
    }
    if !options.baseline.is_file() {
        return Err(format!(
            "the baseline {} is not a file (a gridwork-bench binary built from the code before)",
            options.baseline.display()
        ));
    }
    let this = std::env::current_exe().map_err(|e| format!("this binary's path: {e}"))?;
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("creating {}: {e}", options.out.display()))?;
    let mut runs: Vec<(Side, usize, Value)> = Vec::new();
    for turn in 0..options.turns {
        let order = if turn % 2 == 0 {
            [Side::Baseline, Side::This]
        } else {
            [Side::This, Side::Baseline]
        };
        for side in order {
            let binary = match side {
                Side::Baseline => options.baseline.as_path(),
                Side::This => this.as_path(),
            };
            let dir = options.out.join(format!("turn-{turn}-{}", side.name()));
            eprintln!(
                "[turn {}/{}] {} ({})",
                turn + 1,
                options.turns,
                side.name(),
                binary.display()
            );
            let mut json = run_side(binary, options, &dir)?;
            if side == Side::Baseline {
                // The harness names the commit of the folder it runs in, not of its build.
                json["machine"]["commit"] = json!(baseline_name(options));
            }
            runs.push((side, turn, json));
        }
    }
    let report = compare(&runs);
    let md = options.out.join("compare.md");
    std::fs::write(&md, markdown(&report, options))
        .map_err(|e| format!("writing {}: {e}", md.display()))?;
    let raw = options.out.join("compare.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&raw, text).map_err(|e| format!("writing {}: {e}", raw.display()))?;
    Ok(md)
}

/// The baseline as the reports name it: its file name (a report may be kept in the
/// repository, and the folder it was copied to is this machine's).
fn baseline_name(options: &Options) -> String {
    options.baseline.file_name().map_or_else(
        || options.baseline.display().to_string(),
        |n| format!("the baseline build `{}`", n.to_string_lossy()),
    )
}

/// One side's run: `binary all --only … --out dir`, its output in `dir/run.log`; the
/// `benchmarks.json` it wrote.
fn run_side(binary: &Path, options: &Options, dir: &Path) -> Result<Value, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let log = dir.join("run.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("all").arg("--out").arg(dir);
    for only in &options.only {
        cmd.arg("--only").arg(only);
    }
    if options.quick {
        cmd.arg("--quick");
    }
    if options.alarm_upload {
        cmd.arg("--alarm-upload");
    }
    if let Some(url) = &options.postgres {
        cmd.arg("--postgres").arg(url);
    }
    let err_file = log_file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let status = cmd
        .stdout(log_file)
        .stderr(err_file)
        .status()
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    if !status.success() {
        return Err(format!(
            "{} failed ({status}); its output is in {}",
            binary.display(),
            log.display()
        ));
    }
    let json = dir.join("benchmarks.json");
    let text =
        std::fs::read_to_string(&json).map_err(|e| format!("reading {}: {e}", json.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))
}

/// The figures of every run, paired by scenario and name: for each, both sides' values over
/// the turns, their medians and this build's change.
fn compare(runs: &[(Side, usize, Value)]) -> Value {
    // (scenario title, figure name) → side → (values, ratios), in the order first seen.
    let mut order: Vec<(String, String, String)> = Vec::new();
    type Sides = BTreeMap<&'static str, (Vec<f64>, Vec<f64>)>;
    let mut seen: BTreeMap<(String, String), Sides> = BTreeMap::new();
    let mut turns = Vec::new();
    for (side, turn, json) in runs {
        turns.push(json!({
            "side": side.name(),
            "turn": turn,
            "started_utc": json["started_utc"],
            "load_average": json["machine"]["load_average"],
            "commit": json["machine"]["commit"],
        }));
        for scenario in json["scenarios"].as_array().into_iter().flatten() {
            let title = scenario["title"].as_str().unwrap_or("?").to_string();
            for figure in scenario["figures"].as_array().into_iter().flatten() {
                let Some(value) = figure["value"].as_f64() else {
                    continue;
                };
                let name = figure["name"].as_str().unwrap_or("?").to_string();
                let key = (title.clone(), name.clone());
                if !seen.contains_key(&key) {
                    let unit = figure["unit"].as_str().unwrap_or("").to_string();
                    order.push((title.clone(), name.clone(), unit));
                }
                let entry = seen.entry(key).or_default().entry(side.name()).or_default();
                entry.0.push(value);
                if let Some(ratio) = figure["ratio"].as_f64() {
                    entry.1.push(ratio);
                }
            }
        }
    }
    let figures: Vec<Value> = order
        .into_iter()
        .map(|(scenario, name, unit)| {
            let sides = &seen[&(scenario.clone(), name.clone())];
            let side = |s: Side| sides.get(s.name()).cloned().unwrap_or_default();
            let (base, base_ratios) = side(Side::Baseline);
            let (this, this_ratios) = side(Side::This);
            json!({
                "scenario": scenario,
                "name": name,
                "unit": unit,
                "baseline": summary(&base),
                "this": summary(&this),
                "change": change(&base, &this),
                "ratio": if base_ratios.is_empty() && this_ratios.is_empty() {
                    Value::Null
                } else {
                    json!({
                        "baseline": summary(&base_ratios),
                        "this": summary(&this_ratios),
                        "change": change(&base_ratios, &this_ratios),
                    })
                },
            })
        })
        .collect();
    json!({ "turns": turns, "figures": figures })
}

/// Median, min and max of a side's values (`null` when it has none).
fn summary(values: &[f64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let spread = crate::report::Spread::of(values.to_vec(), Vec::new());
    json!({
        "values": spread.runs,
        "median": spread.median,
        "min": spread.min,
        "max": spread.max,
    })
}

/// This build's median over the baseline's, less one (`null` when either side is missing or
/// the baseline's median is zero).
fn change(base: &[f64], this: &[f64]) -> Value {
    match (median(base), median(this)) {
        (Some(b), Some(t)) if b != 0.0 => json!(t / b - 1.0),
        _ => Value::Null,
    }
}

/// [`crate::report::median`], `None` for no values.
fn median(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| crate::report::median(values))
}

/// The comparison as a Markdown table, with the turns' start times and load averages.
fn markdown(report: &Value, options: &Options) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Comparison in turns: this build against {}\n\n",
        baseline_name(options)
    ));
    out.push_str(&format!(
        "{} turn(s) of `all --only {}`{}; each turn runs both builds, the baseline first in even \
         turns. Medians over the turns (min–max); \"change\" is this build's median over the \
         baseline's. Raw: `compare.json`, each run's folder `turn-N-SIDE/`.\n\n",
        options.turns,
        options.only.join(" --only "),
        if options.quick {
            " --quick (the figures mean nothing)"
        } else {
            ""
        },
    ));
    out.push_str(
        "| turn | side | started (UTC) | load average | build (this: the checkout's commit) |\n\
         |---|---|---|---|---|\n",
    );
    for t in report["turns"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            t["turn"],
            t["side"].as_str().unwrap_or("?"),
            t["started_utc"].as_str().unwrap_or("?"),
            t["load_average"].as_str().unwrap_or("?"),
            t["commit"].as_str().unwrap_or("?"),
        ));
    }
    out.push_str(
        "\n| scenario | figure | baseline | this build | change |\n|---|---|---:|---:|---:|\n",
    );
    for f in report["figures"].as_array().into_iter().flatten() {
        let unit = f["unit"].as_str().unwrap_or("");
        let name = f["name"].as_str().unwrap_or("?");
        let scenario = f["scenario"].as_str().unwrap_or("?");
        out.push_str(&format!(
            "| {scenario} | {name} | {} | {} | {} |\n",
            cell(&f["baseline"], unit),
            cell(&f["this"], unit),
            percent(&f["change"]),
        ));
        if f["ratio"].is_object() {
            out.push_str(&format!(
                "| {scenario} | {name}: against its reference | {} | {} | {} |\n",
                cell(&f["ratio"]["baseline"], ""),
                cell(&f["ratio"]["this"], ""),
                percent(&f["ratio"]["change"]),
            ));
        }
    }
    out
}

fn cell(summary: &Value, unit: &str) -> String {
    let (Some(m), Some(lo), Some(hi)) = (
        summary["median"].as_f64(),
        summary["min"].as_f64(),
        summary["max"].as_f64(),
    ) else {
        return "—".into();
    };
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    format!(
        "{}{unit} ({}–{})",
        crate::report::group(m),
        crate::report::group(lo),
        crate::report::group(hi)
    )
}

fn percent(change: &Value) -> String {
    change
        .as_f64()
        .map_or_else(|| "—".into(), |c| format!("{:+.1} %", c * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(value: f64, ratio: f64) -> Value {
        json!({
            "started_utc": "2026-12-07 19:00",
            "machine": { "load_average": "1.00 1.00 1.00", "commit": "abc" },
            "scenarios": [{
                "title": "1. Local edit",
                "figures": [
                    { "name": "edits/s", "value": value, "unit": "/s", "ratio": ratio },
                    { "name": "pages per edit", "value": 3.92, "unit": "" },
                ],
            }],
        })
    }

    #[test]
    fn figures_are_paired_by_scenario_and_name_and_compared_on_their_medians() {
        let runs = vec![
            (Side::Baseline, 0, run_of(100.0, 0.20)),
            (Side::This, 0, run_of(130.0, 0.20)),
            (Side::This, 1, run_of(110.0, 0.18)),
            (Side::Baseline, 1, run_of(80.0, 0.18)),
            (Side::Baseline, 2, run_of(90.0, 0.19)),
            (Side::This, 2, run_of(120.0, 0.19)),
        ];
        let report = compare(&runs);
        let figures = report["figures"].as_array().unwrap();
        assert_eq!(figures.len(), 2);
        let edits = &figures[0];
        assert_eq!(edits["name"], "edits/s");
        assert_eq!(edits["baseline"]["median"], 90.0);
        assert_eq!(edits["this"]["median"], 120.0);
        assert_eq!(edits["baseline"]["min"], 80.0);
        assert_eq!(edits["this"]["max"], 130.0);
        let change = edits["change"].as_f64().unwrap();
        assert!((change - (120.0 / 90.0 - 1.0)).abs() < 1e-12, "{change}");
        assert_eq!(
            edits["ratio"]["change"], 0.0,
            "the same ratios on both sides"
        );
        assert!(figures[1]["ratio"].is_null(), "no reference, no ratio row");
        assert_eq!(report["turns"].as_array().unwrap().len(), 6);
        let md = markdown(
            &report,
            &Options {
                baseline: PathBuf::from("/tmp/before"),
                only: vec!["local_edit".into()],
                turns: 3,
                quick: false,
                out: PathBuf::new(),
                postgres: None,
                alarm_upload: false,
            },
        );
        assert!(
            md.contains(
                "| 1. Local edit | edits/s | 90 /s (80–100) | 120 /s (110–130) | +33.3 % |"
            ),
            "{md}"
        );
        assert!(md.contains("edits/s: against its reference"), "{md}");
    }

    #[test]
    fn a_figure_one_side_lacks_has_no_change() {
        let mut other = run_of(100.0, 0.2);
        other["scenarios"][0]["figures"][0]["name"] = json!("renamed");
        let report = compare(&[
            (Side::Baseline, 0, run_of(100.0, 0.2)),
            (Side::This, 0, other),
        ]);
        let figures = report["figures"].as_array().unwrap();
        let edits = figures.iter().find(|f| f["name"] == "edits/s").unwrap();
        assert!(edits["this"].is_null());
        assert!(edits["change"].is_null());
        assert!(percent(&edits["change"]) == "—");
    }

    #[test]
    fn the_median_of_an_even_count_is_the_middle_pair_s_mean() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(median(&[]), None);
    }
}
