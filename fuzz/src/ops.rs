//! Operations built from fuzzer bytes with [`arbitrary::Unstructured`]. Every choice is drawn
//! from small pools (8 record ids, 3 devices, stamps within a few ticks) so that operations hit
//! the same records, overwrite each other, tie, and target records of another kind: the cases
//! the merge and apply code must get right. Some sets carry a whole valid record, so cases are
//! folded and search rows refreshed; others a few fields of any shape. Pages may also evict
//! records (scope changes).

use arbitrary::{Result, Unstructured};
use gridwork_domain::op::Op;
use gridwork_domain::sync::{PullResponse, SequencedOp};
use gridwork_domain::workflow::case_event::STEP_NAMES;
use serde_json::{Value, json};

/// Milliseconds of the fuzz runs' fixed "now" (2027-01-15): stamps are made around it.
pub const NOW_MS: u64 = 1_800_000_000_000;

const RECORD_IDS: [&str; 8] = [
    "0193a5c2-0000-7000-8000-000000000001",
    "0193a5c2-0000-7000-8000-000000000002",
    "0193a5c2-0000-7000-8000-000000000003",
    "0193a5c2-0000-7000-8000-000000000004",
    "0193a5c2-0000-7000-8000-000000000005",
    "0193a5c2-0000-7000-8000-000000000006",
    "0193a5c2-0000-7000-8000-000000000007",
    "0193a5c2-0000-7000-8000-000000000008",
];
const DEVICES: [&str; 3] = [
    "0193a5c2-d000-7000-8000-00000000000a",
    "0193a5c2-d000-7000-8000-00000000000b",
    "0193a5c2-d000-7000-8000-00000000000c",
];
const KINDS: [&str; 10] = [
    "area",
    "building",
    "station",
    "household",
    "resident",
    "registration",
    "case",
    "patrol",
    "patrol_visit",
    "spaceship",
];
const FIELDS: [&str; 24] = [
    "name",
    "code",
    "level",
    "parent_id",
    "address",
    "address_code",
    "kind",
    "grid_id",
    "building_id",
    "household_id",
    "resident_id",
    "unit",
    "phone",
    "id_number",
    "archived",
    "title",
    "category",
    "severity",
    "area_id",
    "opened_at_ms",
    "key_groups",
    "position",
    "last_visit_ms",
    "",
];
const STRINGS: [&str; 16] = [
    "13800138000",
    "330106198001010014",
    "11010519491231002X",
    "330106",
    "330106001001001",
    "梅花碑社区",
    "楼道电瓶车充电",
    "district",
    "grid",
    "residential",
    "rental",
    "hazard",
    "alarm",
    "critical",
    "elderly_living_alone",
    "",
];
/// Step names the server must refuse, beside every real one
/// ([`gridwork_domain::workflow::case_event::STEP_NAMES`]).
const UNKNOWN_ACTIONS: [&str; 2] = ["launch_rocket", ""];
const LEVELS: [&str; 4] = [
    "micro_grid_leader",
    "gridworker",
    "village_secretary",
    "subdistrict_mediation_centre",
];

fn pick<'a>(u: &mut Unstructured, from: &[&'a str]) -> Result<&'a str> {
    Ok(from[u.choose_index(from.len())?])
}

fn record_id(u: &mut Unstructured) -> Result<&'static str> {
    pick(u, &RECORD_IDS)
}

/// A fresh-looking id for an operation or event (ops and events collide only sometimes).
fn op_id(u: &mut Unstructured) -> Result<String> {
    let n: u8 = u.int_in_range(0..=31)?;
    Ok(format!("0193a5c2-e000-7000-8000-{n:012x}"))
}

/// A stamp a few ticks around now, sometimes far ahead or at zero.
fn stamp(u: &mut Unstructured) -> Result<Value> {
    let physical = match u.int_in_range(0..=9u8)? {
        0 => 0,
        1 => NOW_MS + 365 * 24 * 3600 * 1000,
        _ => NOW_MS - 5 + u.int_in_range(0..=10u64)?,
    };
    let counter: u64 = u.int_in_range(0..=3)?;
    Ok(json!({ "hlc": (physical << 16) | counter, "device": pick(u, &DEVICES)? }))
}

/// Any JSON value, biased to those the model uses.
fn value(u: &mut Unstructured, depth: u8) -> Result<Value> {
    Ok(match u.int_in_range(0..=11u8)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.int_in_range(-2..=2i64)?),
        3 => json!(u.arbitrary::<u64>()?),
        4 => json!(
            u.arbitrary::<f64>()
                .map(|f| if f.is_finite() { f } else { 0.5 })?
        ),
        5 | 6 => json!(pick(u, &STRINGS)?),
        7 | 8 => json!(record_id(u)?),
        9 => json!(u.arbitrary::<String>()?),
        10 if depth < 3 => {
            let n = u.int_in_range(0..=3)?;
            Value::Array((0..n).map(|_| value(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ if depth < 3 => json!({ "lat": value(u, depth + 1)?, "lon": 120.15 }),
        _ => Value::Null,
    })
}

/// Every field of a valid record of `kind` (ids from the pool), or `None` for kinds without a
/// template.
fn whole_record(u: &mut Unstructured, kind: &str) -> Result<Option<Value>> {
    Ok(Some(match kind {
        "area" => json!({
            "level": pick(u, &["district", "subdistrict", "grid_layer", "community", "grid"])?,
            "code": pick(u, &["330106", "330106001", "330106001001001"])?,
            "name": pick(u, &["西湖区", "北山街道", "梅花碑第一网格"])?,
            "parent_id": if u.arbitrary()? { Value::Null } else { json!(record_id(u)?) },
        }),
        "building" => json!({
            "address_code": "3301060010010010001",
            "address": "梅花碑社区1幢",
            "kind": pick(u, &["residential", "rental", "shop"])?,
            "grid_id": record_id(u)?,
            "micro_grid_id": null, "head_user_id": null, "station_id": null, "position": null,
        }),
        "household" => json!({
            "building_id": record_id(u)?,
            "unit": "1-301",
            "kind": pick(u, &["rental", "owner_occupied", "group_rental", "vacant"])?,
            "phone": pick(u, &["13800138000", "12345"])?,
            "archived": u.arbitrary::<bool>()?,
        }),
        "resident" => json!({
            "household_id": record_id(u)?,
            "name": "住户",
            "id_number": pick(u, &["330106198001010014", "330106198001010015"])?,
            "phone": null, "key_groups": [], "last_visit_ms": null,
            "archived": u.arbitrary::<bool>()?,
        }),
        "case" => json!({
            "kind": pick(u, &["hazard", "dispute", "alarm", "hotline", "patrol_finding"])?,
            "title": "楼道电瓶车充电",
            "category": "ebike_indoors",
            "severity": pick(u, &["low", "high", "critical"])?,
            "area_id": record_id(u)?,
            "building_id": null, "household_id": null, "position": null,
            "opened_at_ms": NOW_MS - u.int_in_range(0..=86_400_000u64)?,
            "patrol_id": null,
        }),
        _ => return Ok(None),
    }))
}

/// A case step, mostly well formed.
fn action(u: &mut Unstructured) -> Result<Value> {
    let i = u.choose_index(STEP_NAMES.len() + UNKNOWN_ACTIONS.len())?;
    let name = match STEP_NAMES.get(i) {
        Some(step) => step,
        None => UNKNOWN_ACTIONS[i - STEP_NAMES.len()],
    };
    let mut a = json!({ "type": name });
    let fields: [(&str, Value); 12] = [
        ("assignee", json!(record_id(u)?)),
        (
            "deadline_ms",
            json!(NOW_MS + u.int_in_range(0..=3_600_000u64)?),
        ),
        ("reason", json!("住户不在家")),
        ("satisfied", json!(u.arbitrary::<bool>()?)),
        ("station_id", json!(record_id(u)?)),
        ("position", json!({ "lat": 30.27, "lon": 120.15 })),
        ("level", json!(pick(u, &LEVELS)?)),
        ("to", json!(pick(u, &LEVELS)?)),
        ("agreement", json!("双方同意")),
        ("passed", json!(u.arbitrary::<bool>()?)),
        ("text", json!("已联系房东")),
        ("uri", json!("photo://1")),
    ];
    for (name, v) in fields {
        // Most steps get every field they might need; a few get a field of the wrong type.
        match u.int_in_range(0..=9u8)? {
            0 => {}
            1 => {
                a[name] = value(u, 1)?;
            }
            _ => {
                a[name] = v;
            }
        }
    }
    Ok(a)
}

/// One operation's JSON: a set (a few fields, or a whole record), a delete or a case step.
pub fn op_json(u: &mut Unstructured) -> Result<Value> {
    let kind = pick(u, &KINDS)?;
    let entity_id = record_id(u)?;
    let body = match u.int_in_range(0..=9u8)? {
        0..=2 => {
            let mut fields = serde_json::Map::new();
            for _ in 0..u.int_in_range(1..=4)? {
                let base = if u.arbitrary()? {
                    stamp(u)?
                } else {
                    Value::Null
                };
                fields.insert(
                    pick(u, &FIELDS)?.to_string(),
                    json!({ "value": value(u, 0)?, "base": base }),
                );
            }
            json!({ "type": "set", "fields": fields })
        }
        3..=5 => {
            let record = whole_record(u, kind)?.unwrap_or_else(|| json!({ "name": "x" }));
            let fields: serde_json::Map<String, Value> = record
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), json!({ "value": v })))
                .collect();
            json!({ "type": "set", "fields": fields })
        }
        6 => json!({ "type": "delete" }),
        _ => {
            let case_id = if u.int_in_range(0..=7u8)? == 0 {
                record_id(u)?
            } else {
                entity_id
            };
            json!({ "type": "case_event", "event": {
                "id": op_id(u)?,
                "case_id": case_id,
                "stamp": stamp(u)?,
                "actor": if u.arbitrary()? { Value::Null } else { json!(record_id(u)?) },
                "action": action(u)?,
            }})
        }
    };
    Ok(json!({
        "id": op_id(u)?,
        "stamp": stamp(u)?,
        "entity": kind,
        "entity_id": entity_id,
        "body": body,
    }))
}

/// Up to 32 operations (those that decode as v1 operations) as a pull page.
pub fn pull_page(u: &mut Unstructured) -> Result<PullResponse> {
    let mut ops = Vec::new();
    let n = u.int_in_range(1..=32)?;
    for seq in 1..=n {
        if let Ok(op) = serde_json::from_value::<Op>(op_json(u)?) {
            ops.push(SequencedOp { seq, op });
        }
    }
    // Sometimes records leave the device's scope in the same page (evictions).
    let mut evict = Vec::new();
    for _ in 0..u.int_in_range(0..=2)? {
        evict.push(record_id(u)?.parse().expect("pool ids are uuids"));
    }
    Ok(PullResponse {
        next: ops.len() as u64,
        ops,
        more: false,
        server_time_ms: NOW_MS + u.int_in_range(0..=1000u64)?,
        records: vec![],
        events: vec![],
        evict,
        user: None,
    })
}
