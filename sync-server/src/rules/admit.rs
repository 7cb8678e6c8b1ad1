//! Whether a pushed operation is admitted into the log, decided from the operation, who pushes
//! it and the record's current state. The order of the checks is the order a newcomer would
//! ask the questions in: is it yours ([`check_author`]), have we got it already (the storage
//! looks the id up), is your clock sane, does it fit the record, is the result valid
//! ([`admit`]).
//!
//! Rejection messages name a field and a problem, never a value: they are shown on the phone
//! and may be logged.
//!
//! One more question needs other records than the one changed: does the change keep the
//! tenant ledger whole ([`check_ledger`]: one household per unit of a building; a check-in's
//! tenant has a valid ID number, lives in the room, holds no other open stay). The storage
//! gathers those records in the push's own transaction ([`crate::storage::Storage::ledger`])
//! and this module judges, with the same rules the phone ran.

use gridwork_domain::hlc::{self, ClockError};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{
    Area, Building, Case, Entity, Household, Patrol, PatrolVisit, Registration, Resident, Station,
};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::RejectCode;
use gridwork_domain::validate::schema;
use gridwork_domain::workflow::{
    CaseEvent, Ledger, household_rules, ledger_fields, registration_rules,
};

/// Who is pushing, and the server's time when the push arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct PushContext {
    /// The authenticated device.
    pub device: DeviceId,
    /// Its user.
    pub user: Id,
    /// The user's role and scope, with the area paths the scope hangs from: every operation
    /// is authorized against it ([`crate::rules::authorize`]).
    pub view: ScopeView,
    /// Server time, ms since the epoch.
    pub now_ms: u64,
}

/// Why an operation was refused: the code and a message without personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(code: RejectCode, message: impl Into<String>) -> Rejection {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// What to store for an admitted operation (besides the operation itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// The record's state after merging a set or a delete.
    Record(RecordState),
    /// A case event to add to its case's history; `new_case` is the empty record to create
    /// when the event arrived before anything else about its case, so that snapshots (which
    /// page by record) carry its events.
    Event {
        event: CaseEvent,
        new_case: Option<RecordState>,
    },
}

/// Refuses an operation stamped by another device than the one pushing it: a device may only
/// push its own outbox. Checked before the duplicate lookup, so a device cannot learn the
/// sequence number of someone else's operation by replaying its id.
pub fn check_author(op: &Op, ctx: &PushContext) -> Result<(), Rejection> {
    if op.stamp.device != ctx.device {
        return Err(Rejection::new(
            RejectCode::WrongDevice,
            "the operation was stamped by another device than the one pushing it",
        ));
    }
    Ok(())
}

/// Binds a case event to the device that pushes it: the step was recorded by this device (the
/// event's own stamp) for this device's user (its actor, when it names one). Every event the
/// server stores, and so every actor a timeline shows, is the pushing device's own; a phone
/// cannot record a step in a dispatcher's name.
pub fn check_actor(event: &CaseEvent, ctx: &PushContext) -> Result<(), Rejection> {
    if event.stamp.device != ctx.device {
        return Err(Rejection::new(
            RejectCode::WrongDevice,
            "the case step was recorded by another device than the one sending it",
        ));
    }
    if event.actor.is_some_and(|actor| actor != ctx.user) {
        return Err(Rejection::new(
            RejectCode::Forbidden,
            "the case step names another user as the one who took it; a device records steps \
             only for its own user",
        ));
    }
    Ok(())
}

/// Decides a new (not duplicate) operation against the record's `current` state.
pub fn admit(
    op: &Op,
    ctx: &PushContext,
    current: Option<RecordState>,
) -> Result<Admitted, Rejection> {
    check_clock(op.stamp.hlc, ctx.now_ms)?;
    if let Some(current) = &current
        && current.kind != op.entity
    {
        return Err(Rejection::new(
            RejectCode::Malformed,
            format!(
                "record {} is a {}, not a {}",
                op.entity_id,
                current.kind.as_str(),
                op.entity.as_str()
            ),
        ));
    }
    // The kind's schema: only its fields, every text within its limit (the phone ran the same
    // check before it wrote the change).
    schema::check_op(op).map_err(|e| Rejection::new(RejectCode::Invalid, e.to_string()))?;
    match &op.body {
        OpBody::CaseEvent { event } => {
            if op.entity != EntityKind::Case {
                return Err(Rejection::new(
                    RejectCode::Malformed,
                    format!("a case event cannot target a {}", op.entity.as_str()),
                ));
            }
            if event.case_id != op.entity_id {
                return Err(Rejection::new(
                    RejectCode::Malformed,
                    "the event's case_id is not the operation's entity_id",
                ));
            }
            check_actor(event, ctx)?;
            // The fold orders a case's events by their own stamps, so a stamp from the future
            // would jump the queue just as a field write would.
            check_clock(event.stamp.hlc, ctx.now_ms)?;
            let new_case = current
                .is_none()
                .then(|| RecordState::new(EntityKind::Case, op.entity_id));
            Ok(Admitted::Event {
                event: event.clone(),
                new_case,
            })
        }
        OpBody::Delete => {
            let mut state = current.unwrap_or_else(|| RecordState::new(op.entity, op.entity_id));
            state.merge(op);
            Ok(Admitted::Record(state))
        }
        OpBody::Set { .. } => {
            let mut state = current.unwrap_or_else(|| RecordState::new(op.entity, op.entity_id));
            state.merge(op);
            check_record(&state)?;
            Ok(Admitted::Record(state))
        }
    }
}

/// Whether an admitted operation must be judged by the ledger rules before it is stored: a set
/// on a household or a stay that writes a field the rules are about (a creation writes them
/// all). The storage gathers the [`Ledger`] only then.
pub fn needs_ledger(op: &Op) -> bool {
    let OpBody::Set { fields } = &op.body else {
        return false;
    };
    ledger_fields(op.entity)
        .iter()
        .any(|field| fields.contains_key(*field))
}

/// Judges the merged `state` of a household or a stay by the ledger rules against `ledger`,
/// what the server holds of its building or tenant. Of two phones that added the same unit (or
/// checked the same person in) offline, the second to arrive is refused here, and its phone
/// shows why; which of the two came first cannot be known offline, so the server's order
/// decides.
pub fn check_ledger(state: &RecordState, ledger: &Ledger) -> Result<(), Rejection> {
    if state.is_deleted() {
        return Ok(());
    }
    let refuse = |e: gridwork_domain::validate::ValidationError| {
        Rejection::new(RejectCode::Invalid, e.to_string())
    };
    match state.kind {
        EntityKind::Household => {
            let household: Household = decode_for_rules(state)?;
            household_rules(&household, ledger).map_err(refuse)
        }
        EntityKind::Registration => {
            let stay: Registration = decode_for_rules(state)?;
            registration_rules(&stay, ledger).map_err(refuse)
        }
        _ => Ok(()),
    }
}

/// The record as its model type; [`admit`] has already checked that it decodes.
fn decode_for_rules<T: Entity>(state: &RecordState) -> Result<T, Rejection> {
    state.decode().map_err(|_| {
        Rejection::new(
            RejectCode::Invalid,
            format!(
                "a field of the {} has the wrong type or shape",
                T::KIND.as_str()
            ),
        )
    })
}

fn check_clock(stamp: hlc::Hlc, now_ms: u64) -> Result<(), Rejection> {
    hlc::check_not_too_far_ahead(stamp, now_ms, hlc::DEFAULT_MAX_DRIFT_MS).map_err(|e| {
        let message = match e {
            ClockError::TooFarAhead { ahead_ms, .. } => format!(
                "stamped {} s ahead of the server's clock (more than {} s allowed): \
                 the device's clock is wrong",
                ahead_ms / 1000,
                hlc::DEFAULT_MAX_DRIFT_MS / 1000
            ),
            other => other.to_string(),
        };
        Rejection::new(RejectCode::ClockAhead, message)
    })
}

/// Decodes the merged record into its model type and runs the same edge checks the device ran.
fn check_record(state: &RecordState) -> Result<(), Rejection> {
    match state.kind {
        EntityKind::Area => check_as::<Area>(state),
        EntityKind::Building => check_as::<Building>(state),
        EntityKind::Station => check_as::<Station>(state),
        EntityKind::Household => check_as::<Household>(state),
        EntityKind::Resident => check_as::<Resident>(state),
        EntityKind::Registration => check_as::<Registration>(state),
        EntityKind::Case => check_as::<Case>(state),
        EntityKind::Patrol => check_as::<Patrol>(state),
        EntityKind::PatrolVisit => check_as::<PatrolVisit>(state),
    }
}

fn check_as<T: Entity>(state: &RecordState) -> Result<(), Rejection> {
    let mut record: T = state.decode().map_err(|e| {
        // serde's messages for a wrong type quote the value (it may be an ID number), so only
        // a missing field, which names the field alone, is passed on.
        let text = e.to_string();
        let message = match text.strip_prefix("missing field ") {
            Some(rest) => format!(
                "incomplete record: missing field {}",
                rest.split(" at ").next().unwrap_or(rest)
            ),
            None => format!(
                "a field of the {} has the wrong type or shape",
                T::KIND.as_str()
            ),
        };
        Rejection::new(RejectCode::Invalid, message)
    })?;
    record
        .normalize()
        .map_err(|e| Rejection::new(RejectCode::Invalid, e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gridwork_domain::hlc::{Hlc, Stamp};
    use gridwork_domain::op::FieldWrite;
    use gridwork_domain::workflow::CaseAction;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    const NOW: u64 = 1_795_395_600_000;

    fn ctx(device: DeviceId) -> PushContext {
        PushContext {
            device,
            user: Uuid::now_v7(),
            view: ScopeView::new(gridwork_domain::sync::Role::Admin, vec![], vec![]),
            now_ms: NOW,
        }
    }

    fn set(
        device: DeviceId,
        at_ms: u64,
        kind: EntityKind,
        id: Id,
        fields: serde_json::Value,
    ) -> Op {
        let fields: BTreeMap<String, FieldWrite> = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    FieldWrite {
                        value: v.clone(),
                        base: None,
                    },
                )
            })
            .collect();
        Op {
            id: Uuid::now_v7(),
            stamp: Stamp::new(Hlc::new(at_ms, 0), device),
            entity: kind,
            entity_id: id,
            body: OpBody::Set { fields },
        }
    }

    fn household_fields(phone: &str) -> serde_json::Value {
        json!({ "building_id": Uuid::now_v7(), "unit": "2-301", "kind": "rental",
                "phone": phone, "archived": false })
    }

    #[test]
    fn a_new_household_with_a_valid_phone_is_admitted() {
        let device = Uuid::now_v7();
        let op = set(
            device,
            NOW,
            EntityKind::Household,
            Uuid::now_v7(),
            household_fields("13800138000"),
        );
        check_author(&op, &ctx(device)).unwrap();
        let Admitted::Record(state) = admit(&op, &ctx(device), None).unwrap() else {
            panic!()
        };
        assert_eq!(state.fields["unit"], "2-301");
    }

    #[test]
    fn a_bad_phone_is_refused_without_repeating_it() {
        let device = Uuid::now_v7();
        let op = set(
            device,
            NOW,
            EntityKind::Household,
            Uuid::now_v7(),
            household_fields("12345"),
        );
        let err = admit(&op, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(err.message.contains("household.phone"), "{}", err.message);
        assert!(!err.message.contains("12345"));
    }

    #[test]
    fn a_partial_set_on_an_unknown_record_is_an_incomplete_record() {
        let device = Uuid::now_v7();
        let op = set(
            device,
            NOW,
            EntityKind::Household,
            Uuid::now_v7(),
            json!({ "unit": "1-1" }),
        );
        let err = admit(&op, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(
            err.message.starts_with("incomplete record"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_refused_without_quoting_it() {
        let device = Uuid::now_v7();
        let mut fields = household_fields("13800138000");
        fields["archived"] = json!("110105194912310029");
        let op = set(device, NOW, EntityKind::Household, Uuid::now_v7(), fields);
        let err = admit(&op, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(!err.message.contains("1101051949"), "{}", err.message);
    }

    #[test]
    fn another_devices_operation_and_a_clock_a_day_ahead_are_refused() {
        let me = Uuid::now_v7();
        let op = set(
            Uuid::now_v7(),
            NOW,
            EntityKind::Household,
            Uuid::now_v7(),
            household_fields(""),
        );
        assert_eq!(
            check_author(&op, &ctx(me)).unwrap_err().code,
            RejectCode::WrongDevice
        );
        let ahead = set(
            me,
            NOW + 86_400_000,
            EntityKind::Household,
            Uuid::now_v7(),
            household_fields(""),
        );
        let err = admit(&ahead, &ctx(me), None).unwrap_err();
        assert_eq!(err.code, RejectCode::ClockAhead);
        assert!(err.message.contains("86400 s ahead"), "{}", err.message);
    }

    #[test]
    fn an_event_for_another_case_or_on_a_household_is_malformed() {
        let me = Uuid::now_v7();
        let case = Uuid::now_v7();
        let event = CaseEvent {
            id: Uuid::now_v7(),
            case_id: Uuid::now_v7(),
            stamp: Stamp::new(Hlc::new(NOW, 0), me),
            actor: None,
            action: CaseAction::Acknowledge,
        };
        let mut op = Op {
            id: Uuid::now_v7(),
            stamp: Stamp::new(Hlc::new(NOW, 1), me),
            entity: EntityKind::Case,
            entity_id: case,
            body: OpBody::CaseEvent {
                event: event.clone(),
            },
        };
        assert_eq!(
            admit(&op, &ctx(me), None).unwrap_err().code,
            RejectCode::Malformed
        );
        op.body = OpBody::CaseEvent {
            event: CaseEvent {
                case_id: case,
                ..event
            },
        };
        let Admitted::Event { new_case, .. } = admit(&op, &ctx(me), None).unwrap() else {
            panic!()
        };
        assert_eq!(new_case.map(|c| c.kind), Some(EntityKind::Case));
        let household = RecordState::new(EntityKind::Household, case);
        assert_eq!(
            admit(&op, &ctx(me), Some(household)).unwrap_err().code,
            RejectCode::Malformed
        );
    }

    #[test]
    fn only_writes_to_a_unit_or_a_check_in_are_judged_by_the_ledger_rules() {
        let device = Uuid::now_v7();
        let id = Uuid::now_v7();
        let phone = set(
            device,
            NOW,
            EntityKind::Household,
            id,
            json!({ "phone": "1" }),
        );
        assert!(!needs_ledger(&phone));
        let unit = set(
            device,
            NOW,
            EntityKind::Household,
            id,
            json!({ "unit": "1-1" }),
        );
        assert!(needs_ledger(&unit));
        let out = set(
            device,
            NOW,
            EntityKind::Registration,
            id,
            json!({ "check_out": "2026-11-23" }),
        );
        assert!(needs_ledger(&out));
        let resident = set(
            device,
            NOW,
            EntityKind::Resident,
            id,
            json!({ "name": "x" }),
        );
        assert!(!needs_ledger(&resident));
    }

    #[test]
    fn a_household_on_a_taken_unit_is_refused_naming_the_field() {
        let device = Uuid::now_v7();
        let op = set(
            device,
            NOW,
            EntityKind::Household,
            Uuid::now_v7(),
            household_fields("13800138000"),
        );
        let Admitted::Record(state) = admit(&op, &ctx(device), None).unwrap() else {
            panic!()
        };
        let mut taken: Household = state.decode().unwrap();
        taken.id = Uuid::now_v7();
        let ledger = Ledger {
            households: vec![taken.clone()],
            ..Ledger::default()
        };
        let err = check_ledger(&state, &ledger).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(err.message.starts_with("household.unit"), "{}", err.message);
        taken.archived = true;
        let freed = Ledger {
            households: vec![taken],
            ..Ledger::default()
        };
        check_ledger(&state, &freed).unwrap();
    }

    #[test]
    fn unknown_fields_and_overlong_texts_are_refused_without_repeating_them() {
        let device = Uuid::now_v7();
        let mut fields = household_fields("13800138000");
        fields["owner_name"] = json!("张三");
        let op = set(device, NOW, EntityKind::Household, Uuid::now_v7(), fields);
        let err = admit(&op, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(!err.message.contains("owner_name") && !err.message.contains("张三"));
        let mut fields = household_fields("13800138000");
        fields["unit"] = json!("1".repeat(1 << 20));
        let op = set(device, NOW, EntityKind::Household, Uuid::now_v7(), fields);
        let err = admit(&op, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(err.message.contains("household.unit"), "{}", err.message);
        assert!(err.message.len() < 200, "{}", err.message);
        let case = Uuid::now_v7();
        let stamp = Stamp::new(Hlc::new(NOW, 0), device);
        let note = Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case,
            body: OpBody::CaseEvent {
                event: CaseEvent {
                    id: Uuid::now_v7(),
                    case_id: case,
                    stamp,
                    actor: None,
                    action: CaseAction::Note {
                        text: "x".repeat(1 << 20),
                    },
                },
            },
        };
        let err = admit(&note, &ctx(device), None).unwrap_err();
        assert_eq!(err.code, RejectCode::Invalid);
        assert!(err.message.contains("case_event.note"), "{}", err.message);
    }
}
