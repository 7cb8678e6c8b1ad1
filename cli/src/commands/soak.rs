//! `gridwork soak` (hidden): the device half of the crash test (`cli/tests/cli/device_crash.rs`).
//! It writes and syncs without end, as a phone in heavy use would, and prints one JSON line
//! (flushed) before and after each step, so whoever kills it knows which writes the device had
//! acknowledged (returned success for) and what it was doing when it died:
//!
//! ```text
//! {"ready":true}
//! {"begin":"phone","household":ID,"value":"13100000001"}   a write is under way
//! {"ack":"phone","household":ID,"value":"13100000001"}     ... and returned success
//! {"ack":"household","id":ID}   {"ack":"case","id":ID}   {"ack":"note","case":ID,"text":T}
//! {"begin":"sync"}   {"synced":true}   {"synced":false,"code":"...","error":"..."}
//! ```

use std::io::Write;

use gridwork_core::Gridwork;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Case, CaseKind, Household, HouseholdKind, Severity};
use gridwork_domain::workflow::CaseAction;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::device::{runtime, transport};
use super::{CliError, CliResult};
use crate::args::SoakArgs;

fn say(line: Value) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the test is gone: nothing left to tell.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub fn soak(gw: &Gridwork, args: &SoakArgs) -> CliResult {
    if !(1..=9).contains(&args.tag) || args.seed >= 1000 {
        return Err(CliError::Usage(crate::i18n::t("soak-bad-tag-or-seed")));
    }
    let buildings = gw.buildings_in_area(args.area)?;
    if buildings.is_empty() {
        return Err(CliError::Usage(crate::i18n::tr(
            "soak-no-buildings",
            &[("area", &args.area.to_string())],
        )));
    }
    let mine = format!("{}-", args.tag);
    let mut households: Vec<Id> = Vec::new();
    for b in &buildings {
        for h in gw.households_of_building(b.id, false)? {
            if h.unit.starts_with(&mine) {
                households.push(h.id);
            }
        }
    }
    let mut cases: Vec<Id> = gw
        .open_cases_in_area(args.area)?
        .into_iter()
        .filter(|c| c.case.title.starts_with(&mine))
        .map(|c| c.case.id)
        .collect();
    let net = transport(gw)?;
    let rt = runtime()?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    say(json!({"ready": true}));
    for i in 0u64.. {
        let n = args.seed * 100_000 + i;
        let building = &buildings[rng.random_range(0..buildings.len())];
        match rng.random_range(0..6) {
            0 | 1 if !households.is_empty() => {
                let h = households[rng.random_range(0..households.len())];
                let value = format!("13{}{n:08}", args.tag);
                say(json!({"begin": "phone", "household": h, "value": value}));
                gw.update::<Household>(h, |x| x.phone = Some(value.clone()))?;
                say(json!({"ack": "phone", "household": h, "value": value}));
            }
            0..=2 => {
                say(json!({"begin": "household"}));
                let h = gw.create(Household {
                    id: Id::nil(),
                    building_id: building.id,
                    unit: format!("{mine}{n}"),
                    kind: HouseholdKind::Rental,
                    phone: None,
                    archived: false,
                })?;
                say(json!({"ack": "household", "id": h.id}));
                households.push(h.id);
            }
            3 => {
                say(json!({"begin": "case"}));
                let case = gw.open_case(Case {
                    id: Id::nil(),
                    kind: CaseKind::Hazard,
                    title: format!("{mine}{n} 楼道堵塞"),
                    category: "fire".into(),
                    severity: Severity::Medium,
                    area_id: building.grid_id,
                    building_id: Some(building.id),
                    household_id: None,
                    position: None,
                    opened_at_ms: 0,
                    patrol_id: None,
                })?;
                say(json!({"ack": "case", "id": case.case.id}));
                cases.push(case.case.id);
            }
            4 if !cases.is_empty() => {
                let case = cases[rng.random_range(0..cases.len())];
                let text = format!("复查 {mine}{n}");
                say(json!({"begin": "note", "case": case, "text": text}));
                gw.record_case_event(case, CaseAction::Note { text: text.clone() })?;
                say(json!({"ack": "note", "case": case, "text": text}));
            }
            _ => {
                say(json!({"begin": "sync"}));
                match rt.block_on(gw.sync_now(&net)) {
                    Ok(_) => say(json!({"synced": true})),
                    Err(e) => say(json!({
                        "synced": false,
                        "code": e.code(),
                        "error": crate::i18n::sync_error(&e),
                    })),
                }
            }
        }
    }
    unreachable!("the loop above never ends")
}
