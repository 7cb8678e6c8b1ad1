//! The tenant ledger's rules on the server, on both backends: one household per unit of a
//! building, and a check-in whose tenant holds a valid ID number, lives in the room and has no
//! other open stay. The phone refuses these first; the server refuses them again when two
//! phones did them offline, the second to arrive being told why.

use chrono::NaiveDate;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::Entity;
use gridwork_domain::model::{Household, HouseholdKind, Registration, Resident};
use gridwork_domain::op::EntityKind;
use gridwork_domain::sync::PushResult;
use gridwork_domain::sync::{RejectCode, Role};
use serde_json::json;
use uuid::Uuid;

use crate::common::{
    Backend, Phone, TestServer, accepted, id_number, on_both_backends, rejected, town,
};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn room(building: Uuid, unit: &str) -> Household {
    Household {
        id: Uuid::now_v7(),
        building_id: building,
        unit: unit.into(),
        kind: HouseholdKind::Rental,
        phone: None,
        archived: false,
    }
}

fn stay(resident: Uuid, household: Uuid, check_in: NaiveDate) -> Registration {
    Registration {
        id: Uuid::now_v7(),
        resident_id: resident,
        household_id: household,
        check_in,
        expected_end: None,
        check_out: None,
    }
}

/// Pushes the creation of `record` from `phone`; the answer.
async fn create_on<S: Backend, T: Entity>(
    server: &TestServer<S>,
    phone: &mut Phone,
    record: &T,
) -> PushResult {
    let op = phone.create(record);
    server.push(phone, &[op]).await.results.remove(0)
}

/// The merged state a create would store, for [`Storage::ledger`].
fn state_of(op: &gridwork_domain::op::Op) -> RecordState {
    let mut state = RecordState::new(op.entity, op.entity_id);
    state.merge(op);
    state
}

async fn two_phones_offline_adding_the_same_unit_the_second_is_refused<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let mut li = server.phone("李娜", Role::Admin).await;
    let town = town(&mut zhang, 2);
    server.push(&zhang, &town.ops).await;
    let building = town.households[0].building_id;
    let other_building = town.households[1].building_id;

    // Both found 1-302 unrecorded and added it offline; Zhang syncs first.
    let zhangs = zhang.create(&room(building, "1-302"));
    let lis = li.create(&room(building, "１-302")); // full-width on Li's keyboard
    accepted(&server.push(&zhang, &[zhangs]).await.results[0]);
    let answer = server.push(&li, std::slice::from_ref(&lis)).await;
    let (code, message) = rejected(&answer.results[0]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(message.starts_with("household.unit"), "{message}");
    // What the server holds of the building is what the rule judged by.
    let ledger = server.storage.ledger(state_of(&lis)).await.unwrap();
    let units: Vec<&str> = ledger.households.iter().map(|h| h.unit.as_str()).collect();
    assert_eq!(units.len(), 2, "{units:?}");
    assert!(units.contains(&"1-302") && units.contains(&"1-301"));

    // The same unit in another building is another flat; renaming onto a taken unit is not.
    accepted(&create_on(&server, &mut li, &room(other_building, "1-302")).await);
    let rename = li.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "unit": "1-302" }),
    );
    assert_eq!(
        rejected(&server.push(&li, &[rename]).await.results[0]).0,
        RejectCode::Invalid
    );
    // A change that is not about the unit is not judged.
    let phone = li.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "phone": "13900139000" }),
    );
    accepted(&server.push(&li, &[phone]).await.results[0]);
    // A household that moved out frees its unit.
    let gone = zhang.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "archived": true }),
    );
    accepted(&server.push(&zhang, &[gone]).await.results[0]);
    accepted(&create_on(&server, &mut li, &room(building, "1-301")).await);
    let back = zhang.set(
        EntityKind::Household,
        town.households[0].id,
        json!({ "archived": false }),
    );
    assert_eq!(
        rejected(&server.push(&zhang, &[back]).await.results[0]).0,
        RejectCode::Invalid
    );
}

async fn a_check_in_is_refused_without_an_id_number_out_of_the_tenants_room_or_twice<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut zhang = server.phone("张伟", Role::Admin).await;
    let mut li = server.phone("李娜", Role::Admin).await;
    let town = town(&mut zhang, 2);
    server.push(&zhang, &town.ops).await;
    let (home, elsewhere) = (town.households[0].id, town.households[1].id);
    let tenant = town.residents[0].id;
    let unnamed = Resident {
        id: Uuid::now_v7(),
        household_id: home,
        name: "无证租客".into(),
        id_number: None,
        phone: None,
        key_groups: vec![],
        last_visit_ms: None,
        archived: false,
    };
    accepted(&create_on(&server, &mut zhang, &unnamed).await);

    let no_id = zhang.create(&stay(unnamed.id, home, day(20)));
    let wrong_room = zhang.create(&stay(tenant, elsewhere, day(20)));
    let answer = server.push(&zhang, &[no_id, wrong_room]).await;
    let (code, message) = rejected(&answer.results[0]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(message.starts_with("resident.id_number"), "{message}");
    let (_, message) = rejected(&answer.results[1]);
    assert!(
        message.starts_with("registration.household_id"),
        "{message}"
    );

    // Two phones check the same tenant in offline: the second stay to arrive is refused.
    let first = zhang.create(&stay(tenant, home, day(21)));
    let second = li.create(&stay(tenant, home, day(22)));
    accepted(
        &server
            .push(&zhang, std::slice::from_ref(&first))
            .await
            .results[0],
    );
    let answer = server.push(&li, &[second]).await;
    let (code, message) = rejected(&answer.results[0]);
    assert_eq!(code, RejectCode::Invalid);
    assert!(message.starts_with("registration.resident_id"), "{message}");
    assert!(message.contains("open stay"), "{message}");

    // Checking out is never refused; then a new stay goes through.
    let out = zhang.set(
        EntityKind::Registration,
        first.entity_id,
        json!({ "check_out": "2026-11-23" }),
    );
    accepted(&server.push(&zhang, &[out]).await.results[0]);
    accepted(&create_on(&server, &mut li, &stay(tenant, home, day(24))).await);

    // And the ID number on the server is the one checked: a resident whose number is added
    // later can then be checked in.
    let add = zhang.set(
        EntityKind::Resident,
        unnamed.id,
        json!({ "id_number": id_number("19950101", 77) }),
    );
    accepted(&server.push(&zhang, &[add]).await.results[0]);
    accepted(&create_on(&server, &mut zhang, &stay(unnamed.id, home, day(24))).await);
}

on_both_backends!(
    two_phones_offline_adding_the_same_unit_the_second_is_refused,
    a_check_in_is_refused_without_an_id_number_out_of_the_tenants_room_or_twice,
);
