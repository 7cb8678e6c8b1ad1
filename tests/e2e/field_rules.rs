//! The field rules across phones and the real server: the subdistrict's response policy, set by
//! the admin, reaches every phone and times what is opened after it, offline too; nobody else
//! may change it; and of two phones that wrote the same unit or checked the same tenant in
//! offline, the second is refused by the server and its phone shows why.

use std::time::Duration;

use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::{CaseAction, ResponsePolicy};
use uuid::Uuid;

use crate::harness::*;

const MINUTE: u64 = 60_000;

/// Lets the server's clock move on. The phones' clocks here stand still between syncs (the
/// harness moves them by hand), and each sync sets them to the server's time: a phone that syncs
/// after a moment stamps what it does next after everything done before.
async fn a_moment() {
    tokio::time::sleep(Duration::from_millis(30)).await;
}

fn incident(building: &Building, title: &str) -> Case {
    Case {
        id: Uuid::nil(),
        kind: CaseKind::Incident,
        title: title.into(),
        category: "police_110".into(),
        severity: Severity::High,
        area_id: building.grid_id,
        building_id: Some(building.id),
        household_id: None,
        position: building.position,
        opened_at_ms: 0,
        patrol_id: None,
    }
}

/// Minutes from the opening to the "be on scene" deadline, as `d`'s phone times the case now.
fn on_scene_minutes(d: &Device, case: Id) -> u64 {
    let view = d.gw.case(case).unwrap();
    let deadline = view.deadline.expect("a running deadline");
    assert_eq!(deadline.step, "arrive", "{view:?}");
    (deadline.due_ms - view.case.opened_at_ms) / MINUTE
}

/// The responder acknowledges and sets off: the case now waits for them on scene.
fn set_off(d: &Device, case: Id) {
    for step in [
        CaseAction::Acknowledge,
        CaseAction::EnRoute { position: None },
    ] {
        d.gw.record_case_event(case, step).unwrap();
    }
}

#[tokio::test]
async fn a_response_policy_set_by_the_admin_reaches_every_phone_and_times_what_is_opened_after_it()
{
    let server = TestServer::start().await;
    let (admin, seeded) = seeded_admin(&server, "管理员").await;
    let sub = subdistrict(&seeded);
    let building = seeded.buildings[0].clone();
    let wang = Device::enrolled(&server, "王芳", Role::Gridworker, vec![building.grid_id]).await;
    let centre = Device::enrolled(&server, "陈静", Role::Dispatcher, vec![sub]).await;
    wang.sync().await;
    centre.sync().await;
    let responder = wang.gw.user_id().unwrap();

    // Tuesday: the command centre dispatches a fare dispute to 王芳 under 1-3-10.
    centre.sync().await;
    let before = centre
        .gw
        .raise_incident(incident(&building, "网约车车费纠纷"), responder)
        .unwrap();
    centre.sync().await;
    a_moment().await;

    // The admin adopts Wulin's 1/5/30 for the subdistrict.
    admin.sync().await;
    let history = admin
        .gw
        .set_response_policy(sub, ResponsePolicy::wulin())
        .unwrap();
    assert_eq!(history.len(), 1);
    admin.sync().await;
    a_moment().await;

    // 王芳, in a basement since before the change, logs a lost child a minute later and sets
    // off at once: her phone does not know of Wulin yet and gives her 1-3-10's ten minutes.
    wang.advance_ms(MINUTE);
    let lost = wang
        .gw
        .raise_incident(incident(&building, "儿童走失"), responder)
        .unwrap();
    set_off(&wang, lost.case.id);
    assert_eq!(on_scene_minutes(&wang, lost.case.id), 10);

    // Back up: the policy arrives, and it governs what was opened after it was set, wherever
    // that was opened. The fare dispute, opened before, keeps its ten minutes.
    wang.sync().await;
    assert_eq!(
        wang.gw
            .response_policy_in_force(building.grid_id)
            .unwrap()
            .name,
        "wulin-1-5-30"
    );
    assert_eq!(on_scene_minutes(&wang, lost.case.id), 5);
    set_off(&wang, before.case.id);
    assert_eq!(on_scene_minutes(&wang, before.case.id), 10);
    wang.sync().await;
    centre.sync().await;
    assert_eq!(on_scene_minutes(&centre, lost.case.id), 5);
    assert_eq!(on_scene_minutes(&centre, before.case.id), 10);

    // The fire crew's phone holds no grid, only its station and the areas above it: it times
    // its alarms by the subdistrict's policy too (Wulin wants a report back within 30 minutes;
    // 1-3-10 sets none).
    let station = building
        .station_id
        .expect("the seeded building has a station");
    let crew = Device::enrolled(&server, "消防站一队", Role::FireCrew, vec![station]).await;
    crew.sync().await;
    centre.sync().await;
    let smoke = centre
        .gw
        .raise_alarm(building.id, "闻到烟味", "smoke", None)
        .unwrap();
    centre.sync().await;
    crew.sync().await;
    for step in [
        CaseAction::Acknowledge,
        CaseAction::Arrive {
            position: building.position,
        },
    ] {
        crew.gw.record_case_event(smoke.case.id, step).unwrap();
    }
    let view = crew.gw.case(smoke.case.id).unwrap();
    let deadline = view.deadline.expect("Wulin's report-back deadline");
    assert_eq!(
        (deadline.step, deadline.due_ms - view.case.opened_at_ms),
        ("resolve", 30 * MINUTE)
    );
    assert_eq!(crew.sync().await.rejected, 0, "the crew took its own steps");

    // Only an admin changes an area: the dispatcher's phone refuses her attempt itself, by the
    // server's rule, with the reason; nothing is queued, and nobody else ever sees it.
    let refused = centre
        .gw
        .set_response_policy(sub, ResponsePolicy::one_three_ten())
        .unwrap_err();
    assert!(
        matches!(&refused, gridwork_core::Error::NotAllowed(reason)
            if reason.contains("areas are managed by an admin")),
        "{refused:?}"
    );
    assert_eq!(centre.gw.pending_count().unwrap(), 0);
    assert_eq!(centre.sync().await.rejected, 0);
    for d in [&admin, &wang] {
        d.sync().await;
        let kept = d.gw.response_policies(sub).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "wulin-1-5-30");
    }
}

#[tokio::test]
async fn two_phones_offline_on_the_same_unit_or_tenant_the_second_is_refused_and_shows_why() {
    let server = TestServer::start().await;
    let (admin, seeded) = seeded_admin(&server, "运维").await;
    let room = seeded.households[1].clone();
    let building = seeded
        .buildings
        .iter()
        .find(|b| b.id == room.building_id)
        .unwrap()
        .clone();
    let wang = Device::enrolled(&server, "王芳", Role::Gridworker, vec![building.grid_id]).await;
    let zhao = Device::enrolled(&server, "赵磊", Role::BuildingHead, vec![building.id]).await;
    wang.sync().await;
    zhao.sync().await;
    let tenant = zhao
        .gw
        .create(Resident {
            id: Uuid::nil(),
            household_id: room.id,
            name: "刘洋".into(),
            id_number: Some(gridwork_core::seed::id_number(
                chrono::NaiveDate::from_ymd_opt(1998, 4, 2).unwrap(),
                501,
            )),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })
        .unwrap();
    zhao.sync().await;
    wang.sync().await;

    // Both find 9-901 unrecorded and add it offline (赵磊 types it full-width), and both
    // check 刘洋 in: each phone alone sees nothing wrong.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let new_room = |unit: &str| Household {
        id: Uuid::nil(),
        building_id: building.id,
        unit: unit.into(),
        kind: HouseholdKind::Rental,
        phone: None,
        archived: false,
    };
    let wangs = wang.gw.create(new_room("9-901")).unwrap();
    wang.gw.check_in(tenant.id, room.id, day, None).unwrap();
    let zhaos = zhao.gw.create(new_room("９-９０１")).unwrap();
    zhao.gw.check_in(tenant.id, room.id, day, None).unwrap();

    // 王芳 reaches the server first: both hers are stored; 赵磊's two are refused, with why.
    let first = wang.sync().await;
    assert_eq!(first.rejected, 0);
    let second = zhao.sync().await;
    assert_eq!(second.rejected, 2);
    let reasons: Vec<String> = zhao
        .gw
        .rejected_ops()
        .unwrap()
        .into_iter()
        .map(|e| e.rejected.unwrap_or_default())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons.iter().any(|r| r.contains("household.unit")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("registration.resident_id") && r.contains("open stay")),
        "{reasons:?}"
    );

    // What everyone else holds: one household on 9-901 (王芳's), one open stay for 刘洋.
    zhao.sync().await;
    admin.sync().await;
    for d in [&admin, &wang] {
        let on_unit: Vec<Id> =
            d.gw.households_of_building(building.id, false)
                .unwrap()
                .into_iter()
                .filter(|h| h.unit == "9-901" || h.unit == "９-９０１")
                .map(|h| h.id)
                .collect();
        assert_eq!(on_unit, [wangs.id]);
        let open: Vec<Registration> =
            d.gw.registrations_of_resident(tenant.id)
                .unwrap()
                .into_iter()
                .filter(|r| r.is_active())
                .collect();
        assert_eq!(open.len(), 1);
    }
    assert!(
        admin.gw.get::<Household>(zhaos.id).is_err(),
        "the refused household never reached another phone"
    );
}
