//! Work orders from other systems (the 12345 hotline platform, the 110 linkage, any system that
//! passes on events) and what they are told back. ADR 0025; the wire, with examples:
//! `docs/integration.md`.
//!
//! A source system acts through a **service account** (`gridwork-server admin
//! create-service-account`): a user of its own, role dispatcher, scoped to the area it may send
//! into, and a token of its own that only the `/v1/intake` endpoints accept. An order names its
//! building by unified address code (or its area by area code) and carries the source system's
//! own id: the case's id and its operations' ids are derived from that id
//! ([`derived_id`]), so a retried delivery is the same case, even when two deliveries race.
//!
//! The case is opened by operations stamped by the service account and pushed through
//! [`crate::storage::Storage::push`]: the same planner (admission, place, authorization, scope
//! buckets) as a phone's push, on either backend; phones of the area pull it as any other
//! case. Every step taken on it later is sent back ([`callbacks`]).

use gridwork_domain::hlc::{Hlc, Stamp};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Case, CaseKind, Severity};
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::workflow::{CaseAction, CaseEvent, CaseState, fold};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod callbacks;
pub mod ssrf;

/// What kind of work order it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// A 12345 hotline case (市民热线工单): a hotline case, accepted and assigned when the order
    /// names an assignee.
    #[serde(rename = "hotline_12345")]
    Hotline12345,
    /// A 110 non-police event (非警务警情): an incident, dispatched when it names an assignee.
    #[serde(rename = "police_110")]
    Police110,
    /// Any other event passed on: an incident.
    Event,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Hotline12345 => "hotline_12345",
            OrderKind::Police110 => "police_110",
            OrderKind::Event => "event",
        }
    }

    /// The kind of case it becomes.
    pub fn case_kind(self) -> CaseKind {
        match self {
            OrderKind::Hotline12345 => CaseKind::Hotline,
            OrderKind::Police110 | OrderKind::Event => CaseKind::Incident,
        }
    }

    fn default_category(self) -> &'static str {
        match self {
            OrderKind::Hotline12345 => "hotline",
            OrderKind::Police110 => "non_police_110",
            OrderKind::Event => "event",
        }
    }
}

/// `POST /v1/intake/orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrder {
    /// The source system's own id of the order (its 工单号): a retried delivery with the same id
    /// is the same case.
    pub source_id: String,
    pub kind: OrderKind,
    pub title: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The building's 19-digit unified address code (统一地址编码).
    #[serde(default)]
    pub address_code: Option<String>,
    /// Or, when no building is concerned, the area's code.
    #[serde(default)]
    pub area_code: Option<String>,
    /// What the caller reported: kept as the case's first note.
    #[serde(default)]
    pub description: Option<String>,
    /// The gridwork user to handle it: the case is accepted and assigned (hotline) or dispatched
    /// (incident) to them at once.
    #[serde(default)]
    pub assignee: Option<Id>,
    /// The handling deadline the platform set, ms since the epoch.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// The longest source id, title, category and description accepted.
pub const MAX_SOURCE_ID: usize = 128;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 4000;

/// Where an order goes, by what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Building(String),
    Area(String),
}

/// Why an order is refused before anything is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl WorkOrder {
    /// Checks what can be checked without the database and says where the order goes.
    pub fn check(&self) -> Result<Target, Invalid> {
        let bad = |field, message: &str| Invalid {
            field,
            message: message.to_string(),
        };
        let sid = self.source_id.trim();
        if sid.is_empty() || sid.chars().count() > MAX_SOURCE_ID || sid != self.source_id {
            return Err(bad(
                "source_id",
                "must be 1 to 128 characters without leading or trailing spaces",
            ));
        }
        if self.title.trim().is_empty() || self.title.chars().count() > MAX_TITLE {
            return Err(bad("title", "must be 1 to 200 characters"));
        }
        if self
            .category
            .as_ref()
            .is_some_and(|c| c.trim().is_empty() || c.chars().count() > 64)
        {
            return Err(bad("category", "must be 1 to 64 characters when given"));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(bad("description", "must be at most 4000 characters"));
        }
        match (&self.address_code, &self.area_code) {
            (Some(code), None) => {
                if code.len() != 19 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("address_code", "a unified address code is 19 digits"));
                }
                Ok(Target::Building(code.clone()))
            }
            (None, Some(code)) => {
                if code.is_empty()
                    || code.len() > 32
                    || !code.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(bad(
                        "area_code",
                        "an area code is 1 to 32 letters or digits",
                    ));
                }
                Ok(Target::Area(code.clone()))
            }
            _ => Err(bad(
                "address_code",
                "name the building by `address_code` or, when no building is concerned, the area by `area_code` (one of the two)",
            )),
        }
    }
}

/// An id derived from the account, the source id and what it is for: the same order always
/// makes the same case, events and operations (a UUID of version 8, "custom").
pub fn derived_id(account: Id, source_id: &str, what: &str) -> Id {
    let mut h = Sha256::new();
    for part in [
        b"gridwork-intake-v1".as_slice(),
        account.as_bytes(),
        source_id.as_bytes(),
        what.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The operations that open the case of `order` in `area` (and `building`), stamped by the
/// service account `account` at `now_ms`: the case, the caller's description as a note, and
/// with an assignee the steps that hand it to them.
pub fn case_ops(
    account: Id,
    user: Id,
    order: &WorkOrder,
    area: Id,
    building: Option<Id>,
    now_ms: u64,
) -> Vec<Op> {
    let case_id = derived_id(account, &order.source_id, "case");
    let kind = order.kind.case_kind();
    let case = Case {
        id: case_id,
        kind,
        title: order.title.trim().to_string(),
        category: order
            .category
            .clone()
            .unwrap_or_else(|| order.kind.default_category().to_string()),
        severity: order.severity.unwrap_or(Severity::Medium),
        area_id: area,
        building_id: building,
        household_id: None,
        position: None,
        opened_at_ms: now_ms,
        patrol_id: None,
    };
    let mut counter = 0u16;
    let mut stamp = || {
        let s = Stamp::new(Hlc::new(now_ms, counter), account);
        counter += 1;
        s
    };
    let mut fields = match serde_json::to_value(&case) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("a case serializes to an object"),
    };
    fields.remove("id");
    let mut ops = vec![Op {
        id: derived_id(account, &order.source_id, "op:case"),
        stamp: stamp(),
        entity: EntityKind::Case,
        entity_id: case_id,
        body: OpBody::Set {
            fields: FieldWrite::first_writes(&fields),
        },
    }];
    let mut actions = Vec::new();
    if let Some(text) = order.description.as_ref().filter(|d| !d.trim().is_empty()) {
        actions.push(CaseAction::Note { text: text.clone() });
    }
    if let Some(assignee) = order.assignee {
        match kind {
            CaseKind::Hotline => {
                actions.push(CaseAction::Accept);
                actions.push(CaseAction::ReviewAssign {
                    assignee: Some(assignee),
                    deadline_ms: order.deadline_ms,
                });
            }
            _ => actions.push(CaseAction::Assign {
                assignee: Some(assignee),
                deadline_ms: order.deadline_ms,
            }),
        }
    }
    for (i, action) in actions.into_iter().enumerate() {
        let s = stamp();
        ops.push(Op {
            id: derived_id(account, &order.source_id, &format!("op:event:{i}")),
            stamp: s,
            entity: EntityKind::Case,
            entity_id: case_id,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: derived_id(account, &order.source_id, &format!("event:{i}")),
                    case_id,
                    stamp: s,
                    actor: Some(user),
                    action,
                },
            },
        });
    }
    ops
}

/// One step of a case as the source system reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The step's id: the idempotency key of its callback.
    pub event_id: Id,
    /// The step's name (`accept`, `review_assign`, `handle`, `call_back`, `note`...).
    pub step: String,
    /// When it was taken, ms since the epoch.
    pub at_ms: u64,
    /// The gridwork user who took it, when known.
    pub actor: Option<Id>,
    /// The step with what it carries (`{"type":"call_back","satisfied":true}`).
    pub action: CaseAction,
    /// The case's state after it.
    pub state: CaseState,
    /// Set when the step could not be applied in the order the steps happened (it stays in
    /// the history): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
}

/// `GET /v1/intake/orders/{source_id}`: the case of an order, its state and its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStatus {
    pub source_id: String,
    pub kind: OrderKind,
    pub case_id: Id,
    pub received_ms: u64,
    pub state: CaseState,
    pub assignee: Option<Id>,
    pub closed: bool,
    pub timeline: Vec<Step>,
}

/// The timeline of a case of `kind` opened at `opened_at_ms` from its events (any order).
pub fn timeline(kind: CaseKind, opened_at_ms: u64, events: &[CaseEvent]) -> Vec<Step> {
    let mut sorted: Vec<&CaseEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.stamp, e.id));
    sorted.dedup_by_key(|e| e.id);
    let mut steps = Vec::with_capacity(sorted.len());
    for (i, e) in sorted.iter().enumerate() {
        let upto: Vec<CaseEvent> = sorted[..=i].iter().map(|e| (*e).clone()).collect();
        let f = fold(kind, opened_at_ms, &upto);
        let flagged = f
            .flagged
            .iter()
            .find(|fl| fl.event_id == e.id)
            .map(|fl| fl.reason.clone());
        steps.push(Step {
            event_id: e.id,
            step: e.action.name().to_string(),
            at_ms: e.at_ms(),
            actor: e.actor,
            action: e.action.clone(),
            state: f.state,
            flagged,
        });
    }
    steps
}

/// `PUT /v1/intake/callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// Where each step is POSTed (`http://` or `https://`); `null` stops callbacks.
    pub url: Option<String>,
}

/// The answer to a callback registration: the shared secret that signs every callback from
/// now on (shown only here; registering again makes a new one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRegistered {
    pub url: Option<String>,
    pub secret: Option<String>,
}

/// Checks a callback URL: absolute http(s), with a host, no credentials in it.
pub fn check_callback_url(raw: &str) -> Result<String, String> {
    let url =
        url::Url::parse(raw).map_err(|_| "the callback url is not a valid URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the callback url must be http:// or https://".into());
    }
    if url.host().is_none() {
        return Err("the callback url must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the callback url must not carry credentials; the signature authenticates the server"
                .into(),
        );
    }
    if raw.len() > 2000 {
        return Err("the callback url is longer than 2000 characters".into());
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn order() -> WorkOrder {
        WorkOrder {
            source_id: "12345-20261206-0001".into(),
            kind: OrderKind::Hotline12345,
            title: "楼道堆放杂物".into(),
            category: None,
            severity: None,
            address_code: Some("3301060010010010001".into()),
            area_code: None,
            description: Some("来电人反映三楼楼道堆物".into()),
            assignee: Some(Uuid::now_v7()),
            deadline_ms: None,
        }
    }

    #[test]
    fn the_same_order_makes_the_same_case_and_operations() {
        let (account, user, area) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let a = case_ops(account, user, &order(), area, None, 1_795_000_000_000);
        let b = case_ops(account, user, &order(), area, None, 1_795_000_009_000);
        let ids = |ops: &[Op]| ops.iter().map(|o| (o.id, o.entity_id)).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.len(), 4, "case, note, accept, review_assign");
        let other = case_ops(
            Uuid::now_v7(),
            user,
            &order(),
            area,
            None,
            1_795_000_000_000,
        );
        assert_ne!(
            a[0].entity_id, other[0].entity_id,
            "another account, another case"
        );
        let stamps: Vec<Stamp> = a.iter().map(|o| o.stamp).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "steps in order");
        assert!(stamps.iter().all(|s| s.device == account));
    }

    #[test]
    fn an_order_names_one_place_and_a_sane_source_id() {
        assert_eq!(
            order().check(),
            Ok(Target::Building("3301060010010010001".into()))
        );
        let mut both = order();
        both.area_code = Some("330106001001001".into());
        assert_eq!(both.check().unwrap_err().field, "address_code");
        let mut short = order();
        short.address_code = Some("33010600".into());
        assert_eq!(short.check().unwrap_err().field, "address_code");
        let mut blank = order();
        blank.source_id = " ".into();
        assert_eq!(blank.check().unwrap_err().field, "source_id");
    }

    #[test]
    fn the_timeline_gives_each_step_the_state_it_led_to() {
        let (account, user, area) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let ops = case_ops(account, user, &order(), area, None, 1_795_000_000_000);
        let events: Vec<CaseEvent> = ops
            .iter()
            .filter_map(|o| match &o.body {
                OpBody::CaseEvent { event } => Some(event.clone()),
                _ => None,
            })
            .collect();
        let steps = timeline(CaseKind::Hotline, 1_795_000_000_000, &events);
        let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
        assert_eq!(names, ["note", "accept", "review_assign"]);
        assert_eq!(steps[0].state, CaseState::Received);
        assert_eq!(steps[2].state, CaseState::Assigned);
    }

    #[test]
    fn a_callback_url_is_http_without_credentials() {
        assert!(check_callback_url("https://hotline.example/cb").is_ok());
        assert!(check_callback_url("ftp://x/").is_err());
        assert!(check_callback_url("https://u:p@x/").is_err());
        assert!(check_callback_url("not a url").is_err());
    }
}
