//! What this device's user may do, decided on the phone by the same function the server
//! enforces ([`gridwork_domain::scope::decide`]), so the app shows only the buttons that will
//! be accepted: [`Gridwork::available_actions`] lists a case's next steps the user may take, and
//! the `may_*` calls answer for one change, with the rule's reason when it is refused.
//!
//! The user is the role, scope and anchors the server sent with the last pull
//! ([`Gridwork::scope_view`]). Before the first sync the device does not know them yet: every
//! change is then offered, and the server's answer to the push decides (a refused operation is
//! kept as rejected with its reason, never lost). A record's [`Place`] is found from the local
//! copies by [`gridwork_domain::scope::locate`], the function the server runs over its tables.

use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{CaseKind, Entity, Household, Registration, Resident};
use gridwork_domain::op::{EntityKind, Op, OpBody};
use gridwork_domain::scope::{
    CaseFacts, Change, Decision, Place, ScopeView, decide, decide_tenant, known_areas, locate,
    responders,
};
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::gridwork::Gridwork;
use crate::store::{meta, records};

impl Gridwork {
    /// The user as the scope rules see them, from the last pull's answer; `None` before the
    /// first sync (or on a device that was never enrolled).
    pub fn scope_view(&self) -> Result<Option<ScopeView>> {
        self.query(scope_view)
    }

    /// Where a record held on this device sits for the scope rules.
    pub fn place_of(&self, id: Id) -> Result<Place> {
        self.query(|conn| {
            let state = records::load(conn, id)?.ok_or_else(|| Error::NotFound {
                kind: "record",
                id: id.to_string(),
            })?;
            place(conn, &state)
        })
    }

    /// Whether the user may create `value` where its links put it (a hazard in a building, a
    /// tenant in a household).
    pub fn may_create<T: Entity>(&self, value: &T) -> Result<Decision> {
        self.query(|conn| {
            let Some(view) = scope_view(conn)? else {
                return Ok(Decision::Allow);
            };
            let mut state = RecordState::new(T::KIND, value.id());
            if let serde_json::Value::Object(fields) = serde_json::to_value(value)? {
                state.fields = fields;
            }
            let after = place(conn, &state)?;
            Ok(decide(
                &view,
                Change::Write {
                    before: None,
                    after: &after,
                },
            ))
        })
    }

    /// Whether the user may edit the record `id` where it is.
    pub fn may_edit(&self, id: Id) -> Result<Decision> {
        self.judge(id, |view, place| {
            decide(
                view,
                Change::Write {
                    before: Some(place),
                    after: place,
                },
            )
        })
    }

    /// Whether the user may delete the record `id`.
    pub fn may_delete(&self, id: Id) -> Result<Decision> {
        self.judge(id, |view, place| decide(view, Change::Delete { place }))
    }

    /// Whether the user may record `action` on the case `case_id` (their role and scope; whether
    /// the case's state allows the step is [`Gridwork::available_actions`]' other half).
    pub fn may_act(&self, case_id: Id, action: &CaseAction) -> Result<Decision> {
        self.judge(case_id, |view, case| {
            decide(view, Change::Event { case, action })
        })
    }

    /// What the server will answer to `op` from this user, judged on the device's copies: the
    /// record's place before (`None` when the device does not hold it) and after the change,
    /// by the rule the server runs on every pushed operation. A record the device does not hold
    /// is outside the scope it was given, so a change to it is refused here as there.
    pub fn may_apply(&self, op: &Op) -> Result<Decision> {
        self.query(|conn| judge_op(conn, op))
    }

    fn judge(&self, id: Id, rule: impl FnOnce(&ScopeView, &Place) -> Decision) -> Result<Decision> {
        self.query(|conn| {
            let state = records::load(conn, id)?
                .filter(|s| !s.is_deleted())
                .ok_or_else(|| Error::NotFound {
                    kind: "record",
                    id: id.to_string(),
                })?;
            let Some(view) = scope_view(conn)? else {
                return Ok(Decision::Allow);
            };
            Ok(rule(&view, &place(conn, &state)?))
        })
    }
}

/// What the server will answer to `op` from this device's user, judged on the device's copies
/// before `op` is applied: [`Gridwork::may_apply`], and the check every local write passes
/// before it is applied and queued ([`Gridwork::commit_local`]).
pub(crate) fn judge_op(conn: &Connection, op: &Op) -> Result<Decision> {
    let Some(view) = scope_view(conn)? else {
        return Ok(Decision::Allow);
    };
    let held = records::load(conn, op.entity_id)?.filter(|s| s.kind == op.entity);
    let before = match &held {
        Some(state) if !state.is_deleted() => Some(place(conn, state)?),
        _ => None,
    };
    Ok(match &op.body {
        OpBody::Set { fields } => {
            let mut state = held.unwrap_or_else(|| RecordState::new(op.entity, op.entity_id));
            for (name, write) in fields {
                state.fields.insert(name.clone(), write.value.clone());
            }
            let after = place(conn, &state)?;
            let decision = decide(
                &view,
                Change::Write {
                    before: before.as_ref(),
                    after: &after,
                },
            );
            let tenant_written = op.entity == EntityKind::Registration
                && (fields.contains_key("resident_id") || fields.contains_key("household_id"));
            if decision.is_allowed() && tenant_written {
                decide_tenant(&view, tenant_building(conn, &state)?)
            } else {
                decision
            }
        }
        OpBody::Delete | OpBody::CaseEvent { .. } => {
            let place = match before {
                Some(p) => p,
                None => Place::unresolved(op.entity, op.entity_id),
            };
            match &op.body {
                OpBody::CaseEvent { event } => decide(
                    &view,
                    Change::Event {
                        case: &place,
                        action: &event.action,
                    },
                ),
                _ => decide(&view, Change::Delete { place: &place }),
            }
        }
    })
}

/// The building of the household a stay's tenant lives in, from the device's copies (`None`
/// when the device holds neither).
fn tenant_building(conn: &Connection, stay: &RecordState) -> Result<Option<Id>> {
    let Ok(stay) = stay.decode::<Registration>() else {
        return Ok(None);
    };
    let live = |id| -> Result<Option<RecordState>> {
        Ok(records::load(conn, id)?.filter(|s| !s.is_deleted()))
    };
    let Some(tenant) = live(stay.resident_id)?.and_then(|s| s.decode::<Resident>().ok()) else {
        return Ok(None);
    };
    Ok(live(tenant.household_id)?
        .and_then(|s| s.decode::<Household>().ok())
        .map(|h| h.building_id))
}

/// The stored role, scope and anchors, when the server has sent them.
pub(crate) fn scope_view(conn: &Connection) -> Result<Option<ScopeView>> {
    let Some(role) = meta::get(conn, meta::ROLE)?.and_then(|r| Role::parse(&r)) else {
        return Ok(None);
    };
    let scope: Vec<Id> = match meta::get(conn, meta::SCOPE)? {
        Some(s) => serde_json::from_str(&s)?,
        None => return Ok(None),
    };
    let anchors: Vec<Vec<Id>> = match meta::get(conn, meta::ANCHORS)? {
        Some(a) => serde_json::from_str(&a)?,
        None => vec![],
    };
    Ok(Some(ScopeView::new(role, scope, anchors)))
}

/// The place of `state`, its links followed through the local copies.
pub(crate) fn place(conn: &Connection, state: &RecordState) -> Result<Place> {
    let events = if state.kind == EntityKind::Case {
        records::case_events(conn, state.id)?
    } else {
        vec![]
    };
    let mut lookup = |id| records::load(conn, id);
    let mut place = locate(state, &events, &mut lookup)?;
    if !place.is_resolved() {
        // The phone holds only its part of the city (a crew holds the buildings it serves, not
        // their grids): judge with the part of the path it has.
        place.areas = known_areas(state, &mut lookup)?;
    }
    if state.kind == EntityKind::Building {
        place.responders = responders_here(conn, state.id)?;
    }
    Ok(place)
}

/// The stations the alarms this device holds in `building` were dispatched to: the building's
/// [`Place::responders`], as the server finds them from its cases.
fn responders_here(conn: &Connection, building: Id) -> Result<Vec<Id>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM records WHERE kind = 'case'
             AND json_extract(fields, '$.building_id') = ?1
             AND json_extract(fields, '$.kind') = 'alarm'",
    )?;
    let ids: Vec<String> = stmt
        .query_map([building.to_string()], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let mut alarms = Vec::with_capacity(ids.len());
    for id in ids.iter().filter_map(|id| id.parse().ok()) {
        alarms.push(CaseFacts::from_events(
            CaseKind::Alarm,
            &records::case_events(conn, id)?,
        ));
    }
    Ok(responders(&alarms))
}

#[cfg(test)]
mod tests {
    use gridwork_domain::model::{Case, Household, Severity};
    use uuid::Uuid;

    use super::*;
    use crate::OpenOptions;
    use crate::seed::{SeedSize, Seeded, seed_subdistrict};

    fn city() -> (Gridwork, Seeded) {
        let gw = Gridwork::open_in_memory(OpenOptions::default()).unwrap();
        let seeded = seed_subdistrict(&gw, 11, SeedSize::TINY, |_, _| {}).unwrap();
        (gw, seeded)
    }

    /// Stores a role and scope as a pull answer would (the anchors down to each entry).
    fn become_(gw: &Gridwork, role: Role, scope: Vec<Id>, anchors: Vec<Vec<Id>>) {
        gw.read(|c| {
            meta::set(c, meta::ROLE, role.as_str())?;
            meta::set(c, meta::SCOPE, &serde_json::to_string(&scope)?)?;
            meta::set(c, meta::ANCHORS, &serde_json::to_string(&anchors)?)
        })
        .unwrap();
    }

    fn hazard(gw: &Gridwork, s: &Seeded, building: usize) -> Case {
        let b = &s.buildings[building];
        gw.open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Hazard,
            title: "电动车楼道充电".into(),
            category: "ebike_indoors".into(),
            severity: Severity::High,
            area_id: b.grid_id,
            building_id: Some(b.id),
            household_id: None,
            position: None,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap()
        .case
    }

    fn path_to(s: &Seeded, grid: Id) -> Vec<Id> {
        let mut path: Vec<Id> = [s.district.as_ref(), s.subdistrict.as_ref()]
            .into_iter()
            .flatten()
            .map(|a| a.id)
            .collect();
        path.extend(s.communities.iter().map(|c| c.id));
        path.push(grid);
        path
    }

    #[test]
    fn before_the_first_sync_every_step_is_offered_and_the_server_decides() {
        let (gw, s) = city();
        let case = hazard(&gw, &s, 0);
        assert_eq!(gw.scope_view().unwrap(), None);
        assert_eq!(
            gw.available_actions(case.id).unwrap(),
            vec!["assign", "fix"]
        );
        assert!(gw.may_edit(s.households[0].id).unwrap().is_allowed());
    }

    #[test]
    fn a_building_head_sees_no_status_steps_and_may_only_touch_their_building() {
        let (gw, s) = city();
        let (mine, theirs) = (&s.buildings[0], &s.buildings[1]);
        let case = hazard(&gw, &s, 0);
        let other_case = hazard(&gw, &s, 1);
        become_(
            &gw,
            Role::BuildingHead,
            vec![mine.id],
            vec![path_to(&s, mine.grid_id)],
        );

        // The same case that offered assign and fix offers nothing to a building head...
        assert_eq!(gw.available_actions(case.id).unwrap(), Vec::<&str>::new());
        let fix = gw.may_act(case.id, &CaseAction::Fix).unwrap();
        let Decision::Deny(why) = fix else {
            panic!("a building head may not fix: {fix:?}")
        };
        assert!(why.contains("status"), "{why}");
        // ...but a note is theirs to add, in their building only.
        let note = CaseAction::Note {
            text: "已提醒住户".into(),
        };
        assert!(gw.may_act(case.id, &note).unwrap().is_allowed());
        assert!(!gw.may_act(other_case.id, &note).unwrap().is_allowed());

        // Households: theirs yes, the next building's no, with the rule's reason.
        let in_mine = s
            .households
            .iter()
            .find(|h| h.building_id == mine.id)
            .unwrap();
        let in_theirs = s
            .households
            .iter()
            .find(|h| h.building_id == theirs.id)
            .unwrap();
        assert!(gw.may_edit(in_mine.id).unwrap().is_allowed());
        match gw.may_edit(in_theirs.id).unwrap() {
            Decision::Deny(why) => assert!(why.contains("outside your building"), "{why}"),
            Decision::Allow => panic!("the next building's household is not theirs"),
        }
        assert!(!gw.may_delete(in_mine.id).unwrap().is_allowed());

        // Creating: a hazard in their building yes, in the next one no; a household likewise.
        let mut new_case = case.clone();
        new_case.id = Uuid::now_v7();
        assert!(gw.may_create(&new_case).unwrap().is_allowed());
        new_case.building_id = Some(theirs.id);
        assert!(!gw.may_create(&new_case).unwrap().is_allowed());
        let mut household: Household = in_mine.clone();
        household.id = Uuid::now_v7();
        assert!(gw.may_create(&household).unwrap().is_allowed());
        household.building_id = theirs.id;
        assert!(!gw.may_create(&household).unwrap().is_allowed());
    }

    #[test]
    fn a_gridworker_is_offered_the_steps_of_their_grid_only() {
        let (gw, s) = city();
        let grid = s.grids[0].id;
        let case = hazard(&gw, &s, 0);
        become_(&gw, Role::Gridworker, vec![grid], vec![path_to(&s, grid)]);
        // A gridworker assigns and fixes hazards in their grid; reviewing is the command centre's.
        assert_eq!(
            gw.available_actions(case.id).unwrap(),
            vec!["assign", "fix"]
        );
        match gw.may_act(case.id, &CaseAction::Review).unwrap() {
            Decision::Deny(why) => assert!(why.contains("command centre"), "{why}"),
            Decision::Allow => panic!("reviewing is the command centre's"),
        }
        assert!(gw.may_edit(s.households[0].id).unwrap().is_allowed());

        // Another grid's gridworker holds the same copies but may change none of them.
        become_(&gw, Role::Gridworker, vec![Uuid::now_v7()], vec![]);
        assert_eq!(gw.available_actions(case.id).unwrap(), Vec::<&str>::new());
        assert!(!gw.may_edit(s.households[0].id).unwrap().is_allowed());
    }

    #[test]
    fn a_building_knows_the_stations_its_alarms_were_sent_to_as_the_server_does() {
        let (gw, s) = city();
        let building = &s.buildings[0];
        assert!(gw.place_of(building.id).unwrap().responders.is_empty());
        let alarm = gw
            .raise_alarm(building.id, "闻到烟味", "smoke", None)
            .unwrap()
            .case;
        let assigned = building
            .station_id
            .expect("seeded buildings have a station");
        assert_eq!(gw.place_of(building.id).unwrap().responders, vec![assigned]);
        // The dispatcher sends another station as well: its crew sees the building too.
        let other = Uuid::now_v7();
        gw.record_case_event(alarm.id, CaseAction::Dispatch { station_id: other })
            .unwrap();
        let mut both = vec![assigned, other];
        both.sort();
        assert_eq!(gw.place_of(building.id).unwrap().responders, both);
        // A hazard sends nobody; another building's place is untouched.
        hazard(&gw, &s, 1);
        assert!(
            gw.place_of(s.buildings[1].id)
                .unwrap()
                .responders
                .is_empty()
        );
    }

    #[test]
    fn a_pushed_operation_is_judged_as_the_server_would() {
        let (gw, s) = city();
        let mine = &s.buildings[0];
        let case = hazard(&gw, &s, 0);
        become_(
            &gw,
            Role::BuildingHead,
            vec![mine.id],
            vec![path_to(&s, mine.grid_id)],
        );
        let stamp = gridwork_domain::hlc::Stamp::new(
            gridwork_domain::hlc::Hlc::new(1_795_000_000_000, 0),
            gw.device_id(),
        );
        let close = Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case.id,
            body: OpBody::CaseEvent {
                event: gridwork_domain::workflow::CaseEvent {
                    id: Uuid::now_v7(),
                    case_id: case.id,
                    stamp,
                    actor: None,
                    action: CaseAction::Close,
                },
            },
        };
        assert!(!gw.may_apply(&close).unwrap().is_allowed());
        // A record the phone does not hold is outside its scope: refused, as on the server.
        let mut unknown = close.clone();
        unknown.entity_id = Uuid::now_v7();
        assert!(!gw.may_apply(&unknown).unwrap().is_allowed());
    }

    #[test]
    fn a_step_or_a_change_the_role_may_not_make_is_refused_on_the_phone_and_never_queued() {
        let (gw, s) = city();
        let mine = &s.buildings[0];
        let case = hazard(&gw, &s, 0);
        become_(
            &gw,
            Role::BuildingHead,
            vec![mine.id],
            vec![path_to(&s, mine.grid_id)],
        );
        let queued = gw.pending_count().unwrap();
        let Err(Error::NotAllowed(why)) = gw.record_case_event(case.id, CaseAction::Fix) else {
            panic!("a building head fixed a hazard")
        };
        assert!(why.contains("building head"), "{why}");
        let theirs = s
            .households
            .iter()
            .find(|h| h.building_id != mine.id)
            .unwrap();
        let Err(Error::NotAllowed(why)) =
            gw.update::<Household>(theirs.id, |h| h.phone = Some("13912345678".into()))
        else {
            panic!("a household of another building was edited")
        };
        assert_eq!(why, "this household is outside your building(s)");
        assert_eq!(gw.pending_count().unwrap(), queued, "nothing queued");
        assert!(
            gw.case_timeline(case.id).unwrap().is_empty(),
            "no step recorded"
        );
        // A note is the head's to add.
        gw.record_case_event(
            case.id,
            CaseAction::Note {
                text: "已提醒住户".into(),
            },
        )
        .unwrap();
        assert_eq!(gw.pending_count().unwrap(), queued + 1);
    }

    /// A building head registers only residents of its own building's households: a check-in of
    /// another building's resident into one of its rooms is refused on the phone and queues
    /// nothing, while its own resident's check-in goes through (the server's side:
    /// `rules::plan`'s `a_building_head_checks_in_only_residents_of_its_own_buildings_households`).
    #[test]
    fn a_building_head_cannot_check_in_another_buildings_resident_on_the_phone() {
        let (gw, s) = city();
        let mine = &s.buildings[0];
        let building_of = |r: &gridwork_domain::model::Resident| {
            s.households
                .iter()
                .find(|h| h.id == r.household_id)
                .map(|h| h.building_id)
        };
        let open_stay = |r: &gridwork_domain::model::Resident| {
            s.registrations
                .iter()
                .any(|g| g.resident_id == r.id && g.check_out.is_none())
        };
        let own = s
            .residents
            .iter()
            .find(|r| building_of(r) == Some(mine.id) && !open_stay(r))
            .expect("a resident of building 0 with no open stay");
        let stranger = s
            .residents
            .iter()
            .find(|r| building_of(r) != Some(mine.id) && !open_stay(r))
            .expect("a resident of another building");
        become_(
            &gw,
            Role::BuildingHead,
            vec![mine.id],
            vec![path_to(&s, mine.grid_id)],
        );
        let queued = gw.pending_count().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let refused = gw.check_in(stranger.id, own.household_id, day, None);
        assert!(
            matches!(
                refused,
                Err(Error::NotAllowed(_) | Error::Invalid(_) | Error::NotFound { .. })
            ),
            "another building's resident checked in: {refused:?}"
        );
        assert_eq!(gw.pending_count().unwrap(), queued, "nothing queued");
        gw.check_in(own.id, own.household_id, day, None)
            .expect("its own resident checks in");
        assert_eq!(gw.pending_count().unwrap(), queued + 1);
    }

    #[test]
    fn a_text_over_its_limit_or_an_unknown_field_never_reaches_the_outbox() {
        let (gw, s) = city();
        let queued = gw.pending_count().unwrap();
        let room = s.households[0].id;
        let Err(Error::Invalid(e)) = gw.update::<Household>(room, |h| h.unit = "1".repeat(21))
        else {
            panic!("a 21-character unit")
        };
        assert_eq!(e.field, "household.unit");
        assert_eq!(gw.pending_count().unwrap(), queued);
    }
}
