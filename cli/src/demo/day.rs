//! The demo's script: a week of history, then one Monday of field work, scene by scene.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::{CaseView, Gridwork};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::{CaseAction, DefenceLevel};
use gridwork_server::storage::SqliteStorage;
use uuid::Uuid;

use super::cast::Phone;
use super::{DAY_START_MS, MINUTE, SimClock, Stage};

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

/// What the day produced, for the report.
pub struct Outcome {
    pub phones: Vec<PhoneLine>,
    pub conflict: Option<ConflictStory>,
    pub alarm: AlarmStory,
    pub open_cases: Vec<CaseView>,
    pub brief_markdown: String,
    pub offline_queued: u64,
}

pub struct PhoneLine {
    pub name: &'static str,
    pub role: Role,
    pub digest: String,
    /// The digest of a fresh phone enrolled at the end with the same role and scope: what the
    /// phone must hold, no more and no less.
    pub reference: String,
    pub pending: u64,
}

pub struct ConflictStory {
    pub address: String,
    pub field: String,
    pub lost_value: String,
    pub lost_by: &'static str,
    pub won_value: String,
    pub won_by: &'static str,
    pub final_value: String,
}

pub struct AlarmStory {
    pub title: String,
    pub address: String,
    pub station: String,
    pub live_delivery_ms: u128,
    pub arrival_minutes: f64,
    pub within_target: bool,
}

const DAY: u64 = 24 * 60 * MINUTE;

fn case(kind: CaseKind, title: &str, category: &str, severity: Severity, b: &Building) -> Case {
    Case {
        id: Uuid::nil(),
        kind,
        title: title.into(),
        category: category.into(),
        severity,
        area_id: b.grid_id,
        building_id: Some(b.id),
        household_id: None,
        position: b.position,
        opened_at_ms: 0,
        patrol_id: None,
    }
}

fn step(gw: &Gridwork, id: Id, action: CaseAction) -> DemoResult<CaseView> {
    Ok(gw.record_case_event(id, action)?)
}

/// Plays the week's history and the day; returns what to report.
pub async fn play(dir: &Path, seed: u64) -> DemoResult<Outcome> {
    let clock = SimClock::new(DAY_START_MS - 6 * DAY);
    let storage = Arc::new(SqliteStorage::open(dir.join("server.db"))?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let wall = clock.clone();
    let server =
        gridwork_server::serve_with_clock(listener, storage.clone(), Arc::new(move || wall.now()))
            .await?;
    let url = server.url();
    println!(
        "  ✓ sync server listening on {url} (SQLite in {})",
        dir.join("server.db").display()
    );

    // Tuesday of last week: the operator (an admin, who alone may create areas) loads the
    // subdistrict; the command centre's dispatcher then works inside it.
    let operator = Phone::enroll(
        dir,
        &url,
        &storage,
        &clock,
        "系统管理员",
        Role::Admin,
        vec![],
    )
    .await?;
    let size = SeedSize::DEMO;
    let total = (size.grid_layers * size.communities * size.grids * size.buildings) as u64;
    let stage = Stage::new(total, "seeding the subdistrict");
    let seeded = seed_subdistrict(&operator.gw, seed, size, |done, _| stage.set(done as u64))?;
    stage.done(format!(
        "seeded 北山街道: {} communities, {} grids, {} buildings, {} households, {} residents, {} micro fire stations",
        seeded.communities.len(),
        seeded.grids.len(),
        seeded.buildings.len(),
        seeded.households.len(),
        seeded.residents.len(),
        seeded.stations.len()
    ));
    let push = Stage::new(operator.gw.pending_count()?, "uploading to the server");
    let report = operator.sync().await?;
    push.done(format!(
        "uploaded {} operations ({} KB)",
        report.pushed,
        report.bytes / 1024
    ));
    let subdistrict = seeded
        .subdistrict
        .as_ref()
        .map(|a| a.id)
        .ok_or("the seed made a subdistrict")?;
    let dispatcher = Phone::enroll(
        dir,
        &url,
        &storage,
        &clock,
        "陈静",
        Role::Dispatcher,
        vec![subdistrict],
    )
    .await?;
    dispatcher.sync().await?;

    history(&dispatcher, &seeded, &clock).await?;

    // Monday 07:30: the team's phones enroll with one-time codes and bootstrap.
    clock.at(7, 30);
    let (grid1, grid2) = (seeded.grids[0].clone(), seeded.grids[1].clone());
    let in_grid = |g: &Area| -> Vec<Building> {
        seeded
            .buildings
            .iter()
            .filter(|b| b.grid_id == g.id)
            .cloned()
            .collect()
    };
    let (b1, b2) = (in_grid(&grid1), in_grid(&grid2));
    let head_building = b1[0].clone();
    // The alarm of the afternoon goes to the station assigned to its building: that crew.
    let alarm_building = b2[7].clone();
    let crew_station = seeded
        .stations
        .iter()
        .find(|s| Some(s.id) == alarm_building.station_id)
        .unwrap_or(&seeded.stations[0])
        .clone();
    let cast = [
        ("王芳", Role::Gridworker, vec![grid1.id]),
        ("李强", Role::Gridworker, vec![grid2.id]),
        ("赵磊", Role::BuildingHead, vec![head_building.id]),
        ("消防站一队", Role::FireCrew, vec![crew_station.id]),
    ];
    let stage = Stage::new(cast.len() as u64, "enrolling and bootstrapping phones");
    let mut phones = Vec::new();
    for (name, role, scope) in cast {
        let p = Phone::enroll(dir, &url, &storage, &clock, name, role, scope).await?;
        p.sync().await?;
        stage.inc();
        phones.push(p);
    }
    let [wang, li, zhao, crew]: [Phone; 4] =
        phones.try_into().map_err(|_| "four phones were enrolled")?;
    stage.done(
        "5 phones enrolled (2 gridworkers, a building head, a fire crew, a dispatcher)".into(),
    );

    // 08:30 王芳 patrols grid 1 from a basement with no signal.
    let stage = Stage::new(6, "playing Monday");
    clock.at(8, 30);
    wang.gw.set_online(false);
    let patrol = wang.gw.start_patrol(grid1.id)?;
    let mut ebike = None;
    for (i, b) in b1.iter().take(5).enumerate() {
        clock.advance_minutes(7.0);
        wang.gw.visit_building(patrol.id, b.id, b.position, None)?;
        if i == 1 {
            let c = wang.gw.report_finding(
                patrol.id,
                b.id,
                CaseKind::Hazard,
                "电动车在楼道内充电",
                "ebike_indoors",
                Severity::High,
            )?;
            ebike = Some(c.case.id);
        }
        if i == 3 {
            let c = wang.gw.report_finding(
                patrol.id,
                b.id,
                CaseKind::Hazard,
                "消防通道堆放杂物",
                "blocked_exit",
                Severity::Critical,
            )?;
            clock.advance_minutes(10.0);
            step(&wang.gw, c.case.id, CaseAction::Fix)?; // 当场整改: cleared on the spot
        }
    }
    wang.gw.report_finding(
        patrol.id,
        b1[4].id,
        CaseKind::PatrolFinding,
        "路灯损坏",
        "street_light",
        Severity::Low,
    )?;
    wang.gw.end_patrol(patrol.id)?;
    let _ = ebike;
    stage.inc();

    // 09:10 赵磊 checks three tenants into rented rooms of his building, offline too.
    clock.at(9, 10);
    zhao.gw.set_online(false);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    let rooms: Vec<Household> = zhao.gw.households_of_building(head_building.id, false)?;
    let mut stays = Vec::new();
    for (i, room) in rooms.iter().take(3).enumerate() {
        if !room.kind.is_rental() {
            zhao.gw
                .update::<Household>(room.id, |h| h.kind = HouseholdKind::Rental)?;
        }
        let tenant = zhao.gw.create(Resident {
            id: Uuid::nil(),
            household_id: room.id,
            name: ["刘洋", "黄婷", "曾志强"][i].into(),
            id_number: Some(gridwork_core::seed::id_number(
                NaiveDate::from_ymd_opt(1995 + i as i32, 3 + i as u32, 12).unwrap_or_default(),
                700 + i as u16,
            )),
            phone: Some(format!("1370571{:04}", 1000 + i)),
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })?;
        let until = today.checked_add_days(chrono::Days::new(if i == 2 { 3 } else { 180 }));
        stays.push(zhao.gw.check_in(tenant.id, room.id, today, until)?);
    }
    stage.inc();

    // 09:40 王芳 and 赵磊 both correct the phone of the same household, each offline.
    clock.at(9, 40);
    let household = rooms[0].clone();
    wang.gw
        .update::<Household>(household.id, |h| h.phone = Some("13805710001".into()))?;
    clock.advance_minutes(5.0);
    zhao.gw
        .update::<Household>(household.id, |h| h.phone = Some("13905710002".into()))?;

    // 10:00 李强 takes a neighbours' dispute up the three lines of defence.
    clock.at(10, 0);
    let dispute = li.gw.open_case(Case {
        area_id: grid2.id,
        ..case(
            CaseKind::Dispute,
            "楼上楼下噪音纠纷",
            "neighbours",
            Severity::Medium,
            &b2[3],
        )
    })?;
    let d = dispute.case.id;
    clock.advance_minutes(20.0);
    step(
        &li.gw,
        d,
        CaseAction::Mediate {
            level: DefenceLevel::MicroGridLeader,
        },
    )?;
    clock.advance_minutes(40.0);
    step(
        &li.gw,
        d,
        CaseAction::Escalate {
            to: DefenceLevel::VillageSecretary,
            reason: "双方分歧较大，微网格调解未果".into(),
        },
    )?;
    clock.at(15, 0);
    step(
        &li.gw,
        d,
        CaseAction::Settle {
            level: DefenceLevel::VillageSecretary,
            agreement: "约定晚十点后不使用跑步机，楼上加装地垫".into(),
        },
    )?;
    step(&li.gw, d, CaseAction::Close)?;
    li.sync().await?;
    stage.inc();

    // 14:00 smoke in a building of grid 2: the dispatcher raises the alarm; the crew's phone
    // is waiting on the live long poll and gets it at once.
    clock.at(14, 0);
    crew.sync().await?;
    let crew_wait = async { crew.gw.wait_for_changes(&crew.net, 30).await };
    let raise = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let sent = Instant::now();
        let view = dispatcher.gw.raise_alarm(
            alarm_building.id,
            "3单元闻到焦糊味",
            "smoke",
            Some(Severity::Critical),
        )?;
        dispatcher.sync().await?;
        DemoResult::Ok((view, sent))
    };
    let (live, raised) = tokio::join!(crew_wait, raise);
    let (alarm, sent) = raised?;
    live?;
    let live_delivery_ms = sent.elapsed().as_millis();
    let a = alarm.case.id;
    crew.sync().await?;
    clock.advance_minutes(0.8);
    step(&crew.gw, a, CaseAction::Acknowledge)?;
    clock.advance_minutes(0.4);
    step(
        &crew.gw,
        a,
        CaseAction::EnRoute {
            position: Some(crew_station.position),
        },
    )?;
    clock.advance_minutes(2.8);
    step(
        &crew.gw,
        a,
        CaseAction::Arrive {
            position: alarm_building.position,
        },
    )?;
    crew.sync().await?;
    let arrival = crew
        .gw
        .alarm_arrival(a)?
        .ok_or("the arrival was recorded")?;
    clock.advance_minutes(18.0);
    step(&crew.gw, a, CaseAction::Resolve)?;
    crew.sync().await?;
    dispatcher.sync().await?;
    clock.advance_minutes(30.0);
    step(&dispatcher.gw, a, CaseAction::Review)?;
    stage.inc();

    // 16:00 a 12345 hotline request: accepted and assigned to 李强.
    clock.at(16, 0);
    let hotline = dispatcher.gw.open_case(case(
        CaseKind::Hotline,
        "12345：小区路灯不亮",
        "street_light",
        Severity::Medium,
        &b2[1],
    ))?;
    step(&dispatcher.gw, hotline.case.id, CaseAction::Accept)?;
    step(
        &dispatcher.gw,
        hotline.case.id,
        CaseAction::ReviewAssign {
            assignee: li.gw.user_id()?,
            deadline_ms: None,
        },
    )?;

    // 17:00 a tenant leaves early.
    clock.at(17, 0);
    zhao.gw.check_out(stays[1].id, today)?;
    stage.inc();

    // 18:00 everyone is back online.
    clock.at(18, 0);
    let offline_queued = wang.gw.pending_count()? + zhao.gw.pending_count()?;
    wang.gw.set_online(true);
    zhao.gw.set_online(true);
    let all = [&wang, &zhao, &li, &crew, &dispatcher];
    for _ in 0..2 {
        for p in all {
            p.sync().await?;
        }
    }
    // 王芳's number lost to 赵磊's later edit; she calls the household, confirms hers is right
    // and re-applies it.
    let lost = wang
        .gw
        .field_conflicts()?
        .into_iter()
        .find(|c| c.entity_id == household.id);
    let conflict = match lost {
        Some(c) => {
            wang.gw.reapply_conflict(c.id)?;
            for p in all {
                p.sync().await?;
            }
            let final_value = dispatcher
                .gw
                .get::<Household>(household.id)?
                .phone
                .unwrap_or_default();
            Some(ConflictStory {
                address: format!("{} {}", head_building.address, household.unit),
                field: c.field,
                lost_value: c.lost_value.as_str().unwrap_or_default().to_string(),
                lost_by: wang.name,
                won_value: c.won_value.as_str().unwrap_or_default().to_string(),
                won_by: zhao.name,
                final_value,
            })
        }
        None => None,
    };
    for p in all {
        p.sync().await?;
    }
    stage.inc();
    stage.done("played Monday 08:30–18:00 (simulated clock)".into());

    let station = seeded
        .stations
        .iter()
        .find(|s| Some(s.id) == arrival.station_id);
    // Each phone must hold exactly its user's scope: what a fresh phone with the same role and
    // scope receives from the server now.
    let mut phones = Vec::new();
    for p in all {
        phones.push(PhoneLine {
            name: p.name,
            role: p.role,
            digest: p.gw.state_digest()?,
            reference: p.reference_digest(dir, &url, &storage, &clock).await?,
            pending: p.gw.pending_count()?,
        });
    }
    let outcome = Outcome {
        phones,
        conflict,
        alarm: AlarmStory {
            title: alarm.case.title.clone(),
            address: alarm_building.address.clone(),
            station: station.map(|s| s.name.clone()).unwrap_or_default(),
            live_delivery_ms,
            arrival_minutes: arrival.minutes,
            within_target: arrival.within_target,
        },
        open_cases: dispatcher.gw.open_cases()?,
        brief_markdown: dispatcher
            .gw
            .weekly_brief(
                subdistrict,
                NaiveDate::from_ymd_opt(2026, 11, 17).unwrap_or_default(),
            )?
            .to_markdown(),
        offline_queued,
    };
    server.shutdown().await?;
    Ok(outcome)
}

/// Last week, as the command centre's records show it: cases opened and handled on earlier
/// days, so that Monday's list has overdue and nearly-due work and the brief has a week.
async fn history(dispatcher: &Phone, seeded: &Seeded, clock: &SimClock) -> DemoResult<()> {
    let gw = &dispatcher.gw;
    let b = &seeded.buildings;
    let n = b.len();
    // Tue 09:00: a mixed-use building with people sleeping over the shop (三合一): critical.
    clock.advance_minutes(90.0);
    let c = gw.open_case(case(
        CaseKind::Hazard,
        "三合一场所违规住人",
        "mixed_use_sleeping",
        Severity::Critical,
        &b[n / 3],
    ))?;
    step(
        gw,
        c.case.id,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
    )?;
    // Tue 10:00: clutter in a stairwell, medium.
    clock.advance_minutes(60.0);
    gw.open_case(case(
        CaseKind::Hazard,
        "楼梯间堆放杂物",
        "clutter",
        Severity::Medium,
        &b[5],
    ))?;
    // Wed: group renting with improvised wiring; fixed and rechecked the same week.
    clock.advance_minutes(24.0 * 60.0);
    let c = gw.open_case(case(
        CaseKind::Hazard,
        "群租房私拉电线",
        "group_rental_wiring",
        Severity::High,
        &b[n / 2],
    ))?;
    step(
        gw,
        c.case.id,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
    )?;
    clock.advance_minutes(26.0 * 60.0);
    step(gw, c.case.id, CaseAction::Fix)?;
    clock.advance_minutes(20.0 * 60.0);
    step(gw, c.case.id, CaseAction::Recheck { passed: true })?;
    // Wed: a parking dispute settled by the gridworker, inside the grid.
    let d = gw.open_case(Case {
        area_id: b[20].grid_id,
        ..case(
            CaseKind::Dispute,
            "车位占用纠纷",
            "parking",
            Severity::Low,
            &b[20],
        )
    })?;
    step(
        gw,
        d.case.id,
        CaseAction::Mediate {
            level: DefenceLevel::Gridworker,
        },
    )?;
    clock.advance_minutes(120.0);
    step(
        gw,
        d.case.id,
        CaseAction::Settle {
            level: DefenceLevel::Gridworker,
            agreement: "错时停车".into(),
        },
    )?;
    step(gw, d.case.id, CaseAction::Close)?;
    // Thu 15:00: a kitchen fire; the crew took six minutes.
    clock.advance_minutes(3.0 * 60.0);
    let a = gw.raise_alarm(
        b[n - 3].id,
        "厨房油锅起火",
        "kitchen_fire",
        Some(Severity::Critical),
    )?;
    clock.advance_minutes(1.0);
    step(gw, a.case.id, CaseAction::Acknowledge)?;
    clock.advance_minutes(5.0);
    step(
        gw,
        a.case.id,
        CaseAction::Arrive {
            position: b[n - 3].position,
        },
    )?;
    clock.advance_minutes(25.0);
    step(gw, a.case.id, CaseAction::Resolve)?;
    step(gw, a.case.id, CaseAction::Review)?;
    // Fri: a hotline complaint still waiting to be accepted.
    clock.advance_minutes(20.0 * 60.0);
    gw.open_case(case(
        CaseKind::Hotline,
        "12345：夜间施工噪音",
        "noise",
        Severity::Low,
        &b[40],
    ))?;
    dispatcher.sync().await?;
    Ok(())
}
