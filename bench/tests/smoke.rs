//! The benchmark harness's smoke test: `all --quick` runs every scenario at small sizes and
//! writes both files with every scenario's figures. No timing is judged here, ever: the
//! figures of a quick run on a shared CI machine mean nothing; only their shape is checked.

use std::process::Command;

use serde_json::Value;

/// Runs `cmd` and fails the test with its error output unless it succeeded.
fn succeeds(cmd: &mut Command, what: &str) {
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The JSON file `name` in `dir`.
fn read_json(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn a_quick_run_writes_every_scenarios_figures() {
    let pg = std::env::var("GRIDWORK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "GRIDWORK_TEST_DATABASE_URL is not set: the benchmark's server-load scenario runs on \
             PostgreSQL too. Run ./scripts/test.sh (it starts one), or start one with \
             `eval \"$(./scripts/test-postgres.sh start)\"`"
        )
    });
    let out = tempfile::tempdir().unwrap();
    succeeds(
        Command::new(env!("CARGO_BIN_EXE_gridwork-bench"))
            .args(["all", "--quick", "--out"])
            .arg(out.path())
            .args(["--postgres", &pg])
            .arg("--alarm-upload"),
        "the quick run",
    );

    let json = read_json(out.path(), "benchmarks.json");
    // `--alarm-upload`: the alarm's rounds again while the dispatcher's phone uploads photos.
    let alarm = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "alarm")
        .unwrap();
    let up = &alarm["raw"]["with_upload"];
    assert_eq!(up["rounds"], alarm["raw"]["rounds"], "{alarm}");
    assert!(up["photo_bytes"].as_u64().unwrap() > 1_000_000, "{up}");
    assert!(up["crew_applied"].as_u64().unwrap() >= up["rounds"].as_u64().unwrap());
    assert!(
        alarm["figures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"].as_str().unwrap_or("").starts_with(&format!(
                "during a photo upload ({:.1} MB): ",
                up["photo_bytes"].as_u64().unwrap() as f64 / 1e6
            ))),
        "{alarm}"
    );
    assert_eq!(json["quick"], true);
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    let scenarios = json["scenarios"].as_array().unwrap();
    let by_name = |name: &str| -> &Value {
        scenarios
            .iter()
            .find(|s| s["scenario"] == name)
            .unwrap_or_else(|| panic!("scenario {name} is missing"))
    };
    for name in [
        "local_edit",
        "apply",
        "stale",
        "bootstrap",
        "server_load",
        "alarm",
        "peer",
        "growth",
        "hostile",
        "city",
        "import",
    ] {
        let s = by_name(name);
        assert!(s["not_measured"].is_null(), "{name}: {}", s["not_measured"]);
        let figures = s["figures"].as_array().unwrap();
        assert!(!figures.is_empty(), "{name} has figures");
        for f in figures {
            let v = f["value"].as_f64().unwrap();
            // Rows read may be none at all (a pull with nothing after its cursor), memory per
            // poll may round to nothing at toy sizes, and no request need be answered busy;
            // everything else took some time.
            // The database's CPU is counted in clock ticks (10 ms) of its processes.
            let may_be_zero = name == "city"
                && (matches!(f["unit"].as_str(), Some("rows" | "kB" | "requests"))
                    || f["name"]
                        .as_str()
                        .is_some_and(|n| n.contains("database CPU")));
            assert!(
                v.is_finite() && (v > 0.0 || (may_be_zero && v == 0.0)),
                "{name}: {f}"
            );
            if let Some(r) = f["reference"]["value"].as_f64() {
                assert!(r.is_finite() && r > 0.0, "{name}: {f}");
            }
        }
    }

    // The counts are what was asked for.
    // The device figures are measured three times each, every run's raw numbers kept, and
    // each figure carries its spread (min / median / max).
    for device_scenario in ["local_edit", "bootstrap"] {
        let sc = by_name(device_scenario);
        assert_eq!(sc["raw"]["runs"].as_array().unwrap().len(), 3);
        for f in sc["figures"].as_array().unwrap() {
            let sp = &f["spread"];
            assert_eq!(sp["runs"].as_array().unwrap().len(), 3, "{f}");
            let (min, median, max) = (
                sp["min"].as_f64().unwrap(),
                sp["median"].as_f64().unwrap(),
                sp["max"].as_f64().unwrap(),
            );
            assert!(min <= median && median <= max, "{f}");
            assert_eq!(f["value"].as_f64().unwrap(), median, "{f}");
        }
    }
    for edit in by_name("local_edit")["raw"]["runs"].as_array().unwrap() {
        assert!(edit["outbox_pending_after"].as_u64().unwrap() >= edit["edits"].as_u64().unwrap());
        // The commits are a part of the edits' time; the ceiling is the edits over that part.
        let share = edit["commit_share"].as_f64().unwrap();
        assert!(share > 0.0 && share < 1.0, "{edit}");
        let commit_s = edit["commit_seconds"].as_f64().unwrap();
        let ceiling = edit["ceiling_edits_per_s"].as_f64().unwrap();
        let edits = edit["edits"].as_f64().unwrap();
        assert!((ceiling * commit_s / edits - 1.0).abs() < 1e-6, "{edit}");
        // Every page of the breakdown's edits is named: each kind writes at least its record
        // and its outbox row, a hazard report also its id and (kind, parent) index entries.
        let kinds = &edit["pages_by_kind_of_edit"];
        for (kind, btrees) in [
            ("household's phone", &["records", "outbox"][..]),
            (
                "hazard report",
                &[
                    "records",
                    "outbox",
                    "sqlite_autoindex_records_1",
                    "records_by_parent",
                ][..],
            ),
        ] {
            let k = &kinds[kind];
            assert!(k["edits"].as_u64().unwrap() > 0, "{kind}: {k}");
            let by = k["by_btree"].as_object().unwrap();
            for b in btrees {
                let pages = by.get(*b).and_then(|v| v.as_f64()).unwrap_or(0.0);
                assert!(pages >= 1.0, "{kind} writes {b}: {k}");
            }
            let sum: f64 = by.values().map(|v| v.as_f64().unwrap()).sum();
            assert!(
                (sum - k["pages_per_edit"].as_f64().unwrap()).abs() < 1e-9,
                "{k}"
            );
        }
    }
    let apply = &by_name("apply")["raw"];
    assert_eq!(apply["held_after_bulk"], apply["records"]);
    for boot in by_name("bootstrap")["raw"]["runs"].as_array().unwrap() {
        for scope in ["grid", "subdistrict"] {
            let b = &boot[scope];
            assert!(
                b["held"].as_u64().unwrap() >= b["records_in_scope"].as_u64().unwrap(),
                "{scope}: {b}"
            );
            assert!(b["wire_bytes"].as_u64().unwrap() > 0);
        }
    }
    let load = &by_name("server_load")["raw"];
    for backend in ["sqlite", "postgres"] {
        let l = &load[backend];
        assert_eq!(
            l["accepted"].as_u64().unwrap(),
            l["devices"].as_u64().unwrap() * l["ops_each"].as_u64().unwrap(),
            "{backend}: every pushed operation is accepted"
        );
    }
    let alarm = &by_name("alarm")["raw"];
    assert!(alarm["crew_applied"].as_u64().unwrap() >= alarm["rounds"].as_u64().unwrap());
    assert_eq!(
        by_name("growth")["raw"]["points"].as_array().unwrap().len(),
        3
    );

    // Every hostile client was dealt with as it must be (the tests assert it; a run that did
    // not would measure something else).
    let hostile = &by_name("hostile")["raw"];
    assert_eq!(hostile["idle_closed"], hostile["idle_sockets"]);
    assert_eq!(hostile["slow_cut"], hostile["slow_sockets"]);
    assert_eq!(hostile["answered_503"], hostile["over_the_cap"]);
    assert_eq!(
        hostile["enrollments_answered_429"],
        hostile["locked_out_enrollments"]
    );
    // The city: the phone got exactly what was changed in its grid, every poll measured was
    // woken by its own push only, every pushed operation was accepted.
    let city = &by_name("city")["raw"];
    for backend in ["sqlite", "postgres"] {
        let m = &city[backend];
        let reads = m["reads"].as_array().unwrap();
        assert_eq!(
            reads.len(),
            city["sizes"]["cities"].as_array().unwrap().len()
        );
        for r in reads {
            assert_eq!(r["nothing_new"]["delivered_per_run"], 0, "{backend}: {r}");
            assert_eq!(r["ten_new"]["delivered_per_run"], 10, "{backend}: {r}");
            assert!(
                r["snapshot"]["delivered_per_run"].as_u64().unwrap() > 0,
                "{r}"
            );
        }
        // The city of one grid has nothing after the phone's cursor but its own grid's news.
        assert_eq!(reads[0]["ops_after_cursor"], 0);
        assert!(reads[1]["ops_after_cursor"].as_u64().unwrap() > 0);
        for w in m["wakeups"].as_array().unwrap() {
            assert!(w["rounds"].as_u64().unwrap() > 0, "{backend}: {w}");
            assert_eq!(w["other_answers_with_ops"], 0, "{backend}: {w}");
        }
        let loops: Vec<&serde_json::Value> = m["loops"]
            .as_array()
            .unwrap()
            .iter()
            .chain(m["loops_two"].as_array().unwrap())
            .collect();
        assert!(!loops.is_empty());
        for l in loops {
            assert_eq!(l["refused"], 0, "{backend}: {l}");
            assert!(l["server_cpu_us_per_op"].as_f64().unwrap() > 0.0, "{l}");
            // The harness's PostgreSQL runs on this machine: its CPU is seen; SQLite has none.
            assert_eq!(
                l["database_cpu_us_per_op"].is_null(),
                backend == "sqlite",
                "{backend}: {l}"
            );
            assert_eq!(
                l["accepted"].as_u64().unwrap(),
                l["pushes"].as_u64().unwrap() * 5,
                "{backend}: {l}"
            );
        }
    }
    assert!(!city["postgres"]["loops_two"].as_array().unwrap().is_empty());
    // The loop with each server process held to a share of a core: one process on SQLite, one
    // and two on PostgreSQL, unless no control group could be made (then it says why).
    for (backend, runs) in [("sqlite", 1), ("postgres", 2)] {
        let m = &city[backend];
        let held = m["held"].as_array().unwrap();
        if m["held_not_measured"].is_null() {
            assert_eq!(held.len(), runs, "{backend}: {m}");
            for (l, processes) in held.iter().zip(1..) {
                assert_eq!(l["processes"], processes, "{l}");
                assert_eq!(l["server_cores"], city["sizes"]["held_cores"], "{l}");
                assert!(l["accepted"].as_u64().unwrap() > 0, "{l}");
            }
        } else {
            assert!(held.is_empty());
            assert!(m["held_not_measured"].as_str().unwrap().contains("cgroup"));
        }
    }

    let md = std::fs::read_to_string(out.path().join("benchmarks.md")).unwrap();
    assert!(md.contains("| 8. Growth |"), "{md}");
    assert!(md.contains("PostgreSQL: accepted ops/s"), "{md}");
    assert!(md.contains("| 10. City scale |"), "{md}");
}

/// Issue 22: the import figures (scenario 11) come from a generated run, written in the
/// generated table of `benchmarks.md` between its markers, never as hand-written text. A quick
/// run of that scenario alone into a copy of the real docs/benchmarks.md.
#[test]
fn the_import_scenario_writes_its_figures_in_the_generated_table() {
    let out = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md"),
        out.path().join("benchmarks.md"),
    )
    .unwrap();
    succeeds(
        Command::new(env!("CARGO_BIN_EXE_gridwork-bench"))
            .args(["all", "--quick", "--only", "import", "--out"])
            .arg(out.path()),
        "the quick run",
    );
    let md = std::fs::read_to_string(out.path().join("benchmarks.md")).unwrap();
    let (begin, end) = (
        md.find("<!-- BEGIN gridwork-bench").unwrap(),
        md.find("<!-- END gridwork-bench").unwrap(),
    );
    let block = &md[begin..end];
    for figure in [
        "| 11. Import of a subdistrict | import of ",
        "| 11. Import of a subdistrict | rows imported per second |",
        "| 11. Import of a subdistrict | the same files again (every row unchanged), seconds |",
        "| 11. Import of a subdistrict | server database after the import",
    ] {
        assert!(block.contains(figure), "{figure} in:\n{block}");
    }
    assert!(!block.contains("**not measured**"), "{block}");
    // The prose after the table stays, and holds no figures of its own for the import.
    let after = &md[end..];
    assert!(
        after.contains("## Import of a subdistrict (issue 22)"),
        "{after}"
    );
    assert!(
        !after.contains("| import, seconds |"),
        "a hand-written table is left: {after}"
    );

    let json = read_json(out.path(), "benchmarks.json");
    let import = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "import")
        .unwrap();
    assert_eq!(import["raw"]["refused"], 0);
    assert!(import["raw"]["created"].as_u64().unwrap() > 0);
    assert!(import["raw"]["unchanged_again"].as_u64().unwrap() > 0);
}

/// `compare` through the real binary, the binary against itself: two turns of the quick
/// local-edit scenario, the baseline first in turn 0 and second in turn 1, every figure on
/// both sides with a change; a missing baseline is refused with a message.
#[test]
fn compare_runs_both_builds_in_turns_and_pairs_their_figures() {
    let bin = env!("CARGO_BIN_EXE_gridwork-bench");
    let out = tempfile::tempdir().unwrap();
    succeeds(
        Command::new(bin)
            .args(["compare", "--only", "local_edit", "--quick", "--turns", "2"])
            .arg("--baseline")
            .arg(bin)
            .arg("--out")
            .arg(out.path()),
        "compare",
    );
    let report = read_json(out.path(), "compare.json");
    let sides: Vec<(&str, u64)> = report["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["side"].as_str().unwrap(), t["turn"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        sides,
        [("baseline", 0), ("this", 0), ("this", 1), ("baseline", 1)]
    );
    let figures = report["figures"].as_array().unwrap();
    let edits = figures
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .unwrap()
                .starts_with("edits/s (hazard report")
        })
        .expect("the edit rate is compared");
    for side in ["baseline", "this"] {
        assert_eq!(
            edits[side]["values"].as_array().unwrap().len(),
            2,
            "{edits}"
        );
        assert!(edits[side]["median"].as_f64().unwrap() > 0.0, "{edits}");
    }
    assert!(edits["change"].is_f64(), "{edits}");
    assert!(edits["ratio"]["change"].is_f64(), "{edits}");
    let md = std::fs::read_to_string(out.path().join("compare.md")).unwrap();
    assert!(
        md.contains("| 1. Local edit | edits/s (hazard report"),
        "{md}"
    );
    assert!(
        md.contains("the baseline build `gridwork-bench`") && !md.contains(bin),
        "the baseline named by its file name, not this machine's path: {md}"
    );
    for turn in [
        "turn-0-baseline",
        "turn-0-this",
        "turn-1-this",
        "turn-1-baseline",
    ] {
        assert!(
            out.path().join(turn).join("benchmarks.json").is_file(),
            "{turn}"
        );
    }

    let missing = Command::new(bin)
        .args(["compare", "--only", "local_edit", "--quick", "--baseline"])
        .arg(out.path().join("no-such-binary"))
        .arg("--out")
        .arg(out.path().join("again"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("is not a file"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
