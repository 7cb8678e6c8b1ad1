//! The results of a run: figures with their same-run references and targets, written as the
//! table of `docs/benchmarks.md` and as the raw numbers of `docs/benchmarks.json`.
//!
//! `benchmarks.md` is half generated: the table sits between two marker lines and a run
//! replaces only what is between them, so the hand-written analysis around it (profiles,
//! before/after) survives the next run.

use std::path::Path;

use serde::Serialize;

use crate::machine::Machine;

/// What a figure must reach.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// The ratio to the same-run reference must be at least this.
    RatioAtLeast { min: f64 },
    /// The ratio to the same-run reference must be at most this ("within 1.5× of").
    RatioAtMost { max: f64 },
    /// The value must be at least this.
    AtLeast { min: f64 },
    /// The value must be below this.
    Below { max: f64 },
    /// The value must be at most this.
    AtMost { max: f64 },
    /// Reported, not judged.
    None,
}

impl Target {
    fn describe(&self, unit: &str) -> String {
        match self {
            Target::RatioAtLeast { min } => format!("ratio ≥ {}", trim(*min)),
            Target::RatioAtMost { max } => format!("ratio ≤ {}", trim(*max)),
            Target::AtLeast { min } => format!("≥ {} {unit}", group(*min)),
            Target::Below { max } => format!("< {} {unit}", trim(*max)),
            Target::AtMost { max } => format!("≤ {} {unit}", trim(*max)),
            Target::None => "—".into(),
        }
    }
}

/// The reference a figure is compared with, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    pub name: String,
    pub value: f64,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub reference: Option<Reference>,
    /// `value / reference` (or the inverse where noted in the name), when there is a reference.
    pub ratio: Option<f64>,
    pub target: Target,
    /// Whether the target is met (`None` when there is none).
    pub met: Option<bool>,
    /// When the figure was measured several times: each run's value, and `value` is their
    /// median (the target is judged on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

/// A figure measured in several runs of its scenario: min / median / max, so that one busy
/// moment of a shared machine cannot flip a verdict either way.
#[derive(Debug, Clone, Serialize)]
pub struct Spread {
    pub runs: Vec<f64>,
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// The ratio to the reference in each run, when there is a reference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<f64>,
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Spread {
    pub(crate) fn of(runs: Vec<f64>, ratios: Vec<f64>) -> Spread {
        Spread {
            min: runs.iter().copied().fold(f64::INFINITY, f64::min),
            max: runs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            median: median(&runs),
            runs,
            ratios,
        }
    }
}

/// One scenario measured `runs.len()` times, as one result: each figure's value, reference and
/// ratio are the medians over the runs (the ratio is the median of each run's own ratio, never
/// a ratio of medians), with the spread kept; the target is judged on the medians. The raw
/// numbers of every run are kept under `runs`. Figures are matched by position (every run of a
/// scenario reports the same figures in the same order).
pub fn combine(mut runs: Vec<ScenarioResult>) -> ScenarioResult {
    assert!(!runs.is_empty(), "at least one run to combine");
    if runs.len() == 1 {
        return runs.remove(0);
    }
    let first = runs[0].clone();
    let figures = first
        .figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let values: Vec<f64> = runs.iter().map(|r| r.figures[i].value).collect();
            let ratios: Vec<f64> = runs.iter().filter_map(|r| r.figures[i].ratio).collect();
            let value = median(&values);
            let mut out = match &f.reference {
                Some(reference) => {
                    let refs: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.figures[i].reference.as_ref().map(|x| x.value))
                        .collect();
                    let mut g = Figure::against(
                        f.name.clone(),
                        value,
                        &f.unit,
                        reference.name.clone(),
                        median(&refs),
                        f.target,
                    );
                    let ratio = median(&ratios);
                    g.ratio = Some(ratio);
                    match f.target {
                        Target::RatioAtLeast { min } => g.met = Some(ratio >= min),
                        Target::RatioAtMost { max } => g.met = Some(ratio <= max),
                        _ => {}
                    }
                    g
                }
                None => Figure::new(f.name.clone(), value, &f.unit, f.target),
            };
            out.spread = Some(Spread::of(values, ratios));
            out
        })
        .collect();
    ScenarioResult {
        scenario: first.scenario,
        title: first.title,
        figures,
        raw: serde_json::json!({ "runs": runs.iter().map(|r| r.raw.clone()).collect::<Vec<_>>() }),
        not_measured: runs.iter().find_map(|r| r.not_measured.clone()),
    }
}

impl Figure {
    /// A figure with no reference.
    pub fn new(name: impl Into<String>, value: f64, unit: &str, target: Target) -> Figure {
        let met = match target {
            Target::AtLeast { min } => Some(value >= min),
            Target::Below { max } => Some(value < max),
            Target::AtMost { max } => Some(value <= max),
            Target::RatioAtLeast { .. } | Target::RatioAtMost { .. } | Target::None => None,
        };
        Figure {
            name: name.into(),
            value,
            unit: unit.into(),
            reference: None,
            ratio: None,
            target,
            met,
            spread: None,
        }
    }

    /// A figure beside its reference; the ratio is `value / reference`.
    pub fn against(
        name: impl Into<String>,
        value: f64,
        unit: &str,
        reference_name: impl Into<String>,
        reference: f64,
        target: Target,
    ) -> Figure {
        let ratio = value / reference;
        let mut f = Figure::new(name, value, unit, target);
        f.reference = Some(Reference {
            name: reference_name.into(),
            value: reference,
        });
        f.ratio = Some(ratio);
        match target {
            Target::RatioAtLeast { min } => f.met = Some(ratio >= min),
            Target::RatioAtMost { max } => f.met = Some(ratio <= max),
            _ => {}
        }
        f
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The scenario's name as `--only` takes it.
    pub scenario: String,
    pub title: String,
    pub figures: Vec<Figure>,
    /// Every raw number behind the figures (sizes, counts, timings).
    pub raw: serde_json::Value,
    /// Why a scenario (or part of it) was not measured, said plainly.
    pub not_measured: Option<String>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub quick: bool,
    pub started_utc: String,
    pub seconds: f64,
    pub machine: Machine,
    pub scenarios: Vec<ScenarioResult>,
}

pub const BEGIN: &str = "<!-- BEGIN gridwork-bench results: generated by `cargo run --release -p gridwork-bench -- all`; edits between these markers are overwritten -->";
pub const END: &str = "<!-- END gridwork-bench results -->";

impl Report {
    /// The generated block: the run line, the machine line and the table.
    pub fn markdown_block(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        s.push_str(BEGIN);
        s.push('\n');
        s.push_str(&format!(
            "\nRun: {} UTC, {} mode, {:.0} s in all. Machine: {}. Load average at the start: {}.\n\n",
            self.started_utc,
            if self.quick { "quick (smoke)" } else { "full" },
            self.seconds,
            m.line(),
            m.load_average,
        ));
        s.push_str(
            "| scenario | figure | measured | reference (same run) | ratio | target | met | machine |\n\
             |---|---|---:|---|---:|---|:-:|---|\n",
        );
        for sc in &self.scenarios {
            if let Some(why) = &sc.not_measured {
                s.push_str(&format!(
                    "| {} | **not measured** | — | — | — | — | — | {} |\n",
                    sc.title,
                    m.short()
                ));
                s.push_str(&format!("| | _{}_ | | | | | | |\n", why.replace('|', "/")));
            }
            for f in &sc.figures {
                let reference = f.reference.as_ref().map_or("—".to_string(), |r| {
                    format!("{}: {} {}", r.name, group(r.value), f.unit)
                });
                let ratio = f.ratio.map_or("—".to_string(), |r| format!("{r:.2}"));
                let met = match f.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "—",
                };
                // Measured several times: the median, then min–max over the runs.
                let measured = match &f.spread {
                    Some(sp) => format!(
                        "{} {} ({}–{}, {} runs)",
                        group(f.value),
                        f.unit,
                        group(sp.min),
                        group(sp.max),
                        sp.runs.len()
                    ),
                    None => format!("{} {}", group(f.value), f.unit),
                };
                let ratio = match f.spread.as_ref().filter(|sp| !sp.ratios.is_empty()) {
                    Some(sp) => format!(
                        "{ratio} ({:.2}–{:.2})",
                        sp.ratios.iter().copied().fold(f64::INFINITY, f64::min),
                        sp.ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    ),
                    None => ratio,
                };
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    sc.title,
                    f.name,
                    measured,
                    reference,
                    ratio,
                    f.target.describe(&f.unit),
                    met,
                    m.short(),
                ));
            }
        }
        s.push('\n');
        s.push_str(END);
        s.push('\n');
        s
    }

    /// Writes `benchmarks.json` and `benchmarks.md` into `dir`: the Markdown file's generated
    /// block is replaced if the file has one, else the file is made with a short heading.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("benchmarks.json"), json + "\n")?;
        let md_path = dir.join("benchmarks.md");
        let block = self.markdown_block();
        let md = match std::fs::read_to_string(&md_path) {
            Ok(old) => match (old.find(BEGIN), old.find(END)) {
                (Some(b), Some(e)) if b < e => {
                    let tail = &old[e + END.len()..];
                    let tail = tail.strip_prefix('\n').unwrap_or(tail);
                    format!("{}{}{}", &old[..b], block, tail)
                }
                _ => format!("{old}\n{block}"),
            },
            Err(_) => format!(
                "# Benchmarks\n\nFigures of `gridwork-bench` (see README.md). Each figure \
                 stands beside a reference measured in the same run; the ratios are the \
                 robust figures.\n\n{block}"
            ),
        };
        std::fs::write(md_path, md)
    }
}

/// A number with thousands separators and sensible decimals.
pub fn group(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() >= 1000.0 {
        let n = v.round() as i64;
        let digits = n.abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else {
        trim(v)
    }
}

/// Three significant digits, at most.
fn trim(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(group(123_456.7), "123,457");
        assert_eq!(group(0.5), "0.5");
        assert_eq!(group(14.62), "14.6");
        assert_eq!(group(1000.0), "1,000");
    }

    #[test]
    fn targets_judge_their_figures() {
        let f = Figure::against(
            "x",
            10.0,
            "ops/s",
            "raw",
            40.0,
            Target::RatioAtLeast { min: 0.5 },
        );
        assert_eq!(f.met, Some(false));
        let f = Figure::new("p99", 0.9, "ms", Target::Below { max: 1.0 });
        assert_eq!(f.met, Some(true));
        // A pull in a city of 1,000 grids against the same pull in a city of one.
        let f = Figure::against(
            "p50",
            16.0,
            "ms",
            "1 grid",
            10.0,
            Target::RatioAtMost { max: 1.5 },
        );
        assert_eq!(f.met, Some(false));
        let f = Figure::new("rows per op", 2.0, "rows", Target::AtMost { max: 2.0 });
        assert_eq!(f.met, Some(true));
    }

    fn run(p99: f64, rate: f64, raw_rate: f64) -> ScenarioResult {
        ScenarioResult {
            scenario: "local_edit".into(),
            title: "1. Local edit".into(),
            figures: vec![
                Figure::new("p99", p99, "ms", Target::Below { max: 1.0 }),
                Figure::against(
                    "edits/s",
                    rate,
                    "/s",
                    "raw",
                    raw_rate,
                    Target::RatioAtLeast { min: 1.0 / 3.0 },
                ),
            ],
            raw: serde_json::json!({ "p99": p99 }),
            not_measured: None,
        }
    }

    #[test]
    fn three_runs_are_judged_on_their_medians_and_their_spread_is_shown() {
        // One busy run (p99 3 ms, a slow rate) does not flip the verdicts of the other two.
        let r = combine(vec![
            run(0.8, 4_000.0, 10_000.0),
            run(3.0, 1_000.0, 10_000.0),
            run(0.9, 3_600.0, 9_000.0),
        ]);
        let p99 = &r.figures[0];
        assert_eq!(p99.value, 0.9);
        assert_eq!(p99.met, Some(true));
        let sp = p99.spread.as_ref().unwrap();
        assert_eq!((sp.min, sp.median, sp.max), (0.8, 0.9, 3.0));
        assert_eq!(sp.runs, [0.8, 3.0, 0.9]);
        let rate = &r.figures[1];
        assert_eq!(rate.value, 3_600.0);
        assert_eq!(rate.reference.as_ref().unwrap().value, 10_000.0);
        // The median of the three runs' own ratios (0.4, 0.1, 0.4), not 3,600 / 10,000.
        assert_eq!(rate.ratio, Some(0.4));
        assert_eq!(rate.met, Some(true));
        assert_eq!(r.raw["runs"].as_array().unwrap().len(), 3);
        let table = Report {
            quick: true,
            started_utc: "now".into(),
            seconds: 1.0,
            machine: crate::machine::Machine::detect(),
            scenarios: vec![r],
        }
        .markdown_block();
        assert!(table.contains("| 0.9 ms (0.8–3, 3 runs) |"), "{table}");
        assert!(table.contains("| 0.40 (0.10–0.40) |"), "{table}");
        // One run is the run itself.
        let one = combine(vec![run(3.0, 1.0, 2.0)]);
        assert!(one.figures[0].spread.is_none());
        assert_eq!(one.figures[0].met, Some(false));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }
}
