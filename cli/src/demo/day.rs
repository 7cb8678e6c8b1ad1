//! The demo's script: a week of the command centre's history (Monday to Thursday), then one
//! Friday of field work scene by scene, played by the people whose work each step is: the crew
//! acknowledges, sets off and arrives; the lines of defence take a dispute up in order; the
//! admin, and only the admin, sets the subdistrict's response policy.

use crate::i18n::{t, tr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use gridwork_core::seed::{SeedSize, Seeded, seed_subdistrict};
use gridwork_core::{CaseView, Gridwork, HotlineAssignment};
use gridwork_domain::ids::Id;
use gridwork_domain::model::*;
use gridwork_domain::sync::Role;
use gridwork_domain::validate::Position;
use gridwork_domain::workflow::{CaseAction, DefenceLevel, ResponsePolicy};
use gridwork_server::storage::SqliteStorage;
use uuid::Uuid;

use super::cast::Phone;
use super::{MONDAY_MS, SimClock, Stage};

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A check of the demo's own that failed, in the output language.
fn fail(key: &str) -> Box<dyn std::error::Error> {
    Box::new(crate::i18n::DemoFailure(crate::i18n::t(key)))
}

use crate::i18n::core_error;

/// What the week produced, for the report.
pub struct Outcome {
    pub phones: Vec<PhoneLine>,
    pub conflict: Option<ConflictStory>,
    pub alarm: AlarmStory,
    /// The field rules at work on the phones: what was refused, and why.
    pub refusals: Vec<String>,
    /// The response policy the admin set, and when.
    pub policy: String,
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
    pub target_minutes: f64,
    pub within_target: bool,
    /// Each step of the alarm as the command centre's timeline shows it: the step's name and
    /// who took it (the name of the phone's user), in order.
    pub steps: Vec<(String, &'static str)>,
}

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

/// A point a little south-west of `p` (where a crew or a responder sets off from).
fn nearby(p: Option<Position>) -> Option<Position> {
    p.and_then(|p| Position::new("position", p.lat - 0.003, p.lon - 0.002).ok())
}

/// The people of the demo, on their phones.
struct Team {
    operator: Phone,
    dispatcher: Phone,
    wang: Phone,
    li: Phone,
    zhao: Phone,
    crew: Phone,
}

impl Team {
    fn all(&self) -> [&Phone; 5] {
        [
            &self.wang,
            &self.zhao,
            &self.li,
            &self.crew,
            &self.dispatcher,
        ]
    }

    async fn sync_all(&self) -> DemoResult<()> {
        for p in self.all() {
            p.sync().await?;
        }
        Ok(())
    }
}

/// Plays the week; returns what to report.
pub async fn play(dir: &Path, seed: u64) -> DemoResult<Outcome> {
    // Monday 07:00 of the week.
    let clock = SimClock::new(MONDAY_MS + 7 * 60 * 60_000);
    let storage = Arc::new(SqliteStorage::open(dir.join("server.db"))?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let wall = clock.clone();
    let server =
        gridwork_server::serve_with_clock(listener, storage.clone(), Arc::new(move || wall.now()))
            .await?;
    let url = server.url();
    outln!(
        "  ✓ {}",
        tr(
            "demo-listening",
            &[
                ("url", &url),
                ("db", &dir.join("server.db").display().to_string())
            ]
        )
    );

    // The operator (an admin, who alone may create and change areas) loads the subdistrict.
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
    let stage = Stage::new(total, &t("demo-stage-seeding"));
    let seeded = seed_subdistrict(&operator.gw, seed, size, |done, _| stage.set(done as u64))?;
    let district = seeded
        .district
        .as_ref()
        .ok_or_else(|| fail("demo-fail-seed"))?;
    let sub = seeded
        .subdistrict
        .clone()
        .ok_or_else(|| fail("demo-fail-seed"))?;
    let names = seeded
        .communities
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    stage.done(tr(
        "demo-seeded",
        &[
            ("place", &format!("{}{}", district.name, sub.name)),
            ("communities", &seeded.communities.len().to_string()),
            ("names", &names),
            ("grids", &seeded.grids.len().to_string()),
            ("buildings", &seeded.buildings.len().to_string()),
            ("households", &seeded.households.len().to_string()),
            ("residents", &seeded.residents.len().to_string()),
            ("stations", &seeded.stations.len().to_string()),
        ],
    ));
    let push = Stage::new(operator.gw.pending_count()?, &t("demo-stage-uploading"));
    let report = operator.sync().await?;
    push.done(tr(
        "demo-uploaded",
        &[
            ("ops", &report.pushed.to_string()),
            ("kb", &(report.bytes / 1024).to_string()),
        ],
    ));

    // Monday 07:30: the team's phones enroll with one-time codes and bootstrap.
    clock.on(0, 7, 30);
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
    // Friday's alarm goes to the station assigned to its building: that crew's phone.
    let alarm_building = b2[7].clone();
    let crew_station = seeded
        .stations
        .iter()
        .find(|s| Some(s.id) == alarm_building.station_id)
        .unwrap_or(&seeded.stations[0])
        .clone();
    let cast = [
        ("陈静", Role::Dispatcher, vec![sub.id]),
        ("王芳", Role::Gridworker, vec![grid1.id]),
        ("李强", Role::Gridworker, vec![grid2.id]),
        ("赵磊", Role::BuildingHead, vec![head_building.id]),
        ("消防站一队", Role::FireCrew, vec![crew_station.id]),
    ];
    let stage = Stage::new(cast.len() as u64, &t("demo-stage-enrolling"));
    let mut phones = Vec::new();
    for (name, role, scope) in cast {
        let p = Phone::enroll(dir, &url, &storage, &clock, name, role, scope).await?;
        p.sync().await?;
        stage.inc();
        phones.push(p);
    }
    let [dispatcher, wang, li, zhao, crew]: [Phone; 5] =
        phones.try_into().map_err(|_| fail("demo-fail-enrolled"))?;
    stage.done(t("demo-enrolled"));
    let team = Team {
        operator,
        dispatcher,
        wang,
        li,
        zhao,
        crew,
    };

    let policy = history(&team, &seeded, &sub, &clock).await?;

    let stage = Stage::new(7, &t("demo-stage-friday"));
    let mut refusals = Vec::new();
    // 08:30 王芳 patrols grid 1 from a basement with no signal, and visits the elderly who
    // live alone there (一老一小).
    clock.at(8, 30);
    let wang = &team.wang;
    wang.gw.set_online(false);
    let patrol = wang.gw.start_patrol(grid1.id)?;
    for (i, b) in b1.iter().take(5).enumerate() {
        clock.advance_minutes(7.0);
        wang.gw.visit_building(patrol.id, b.id, b.position, None)?;
        for h in wang.gw.households_of_building(b.id, false)? {
            for r in wang.gw.residents_of_household(h.id)? {
                if !r.key_groups.is_empty() && !r.archived {
                    clock.advance_minutes(2.0);
                    wang.gw.record_key_group_visit(r.id)?;
                }
            }
        }
        if i == 1 {
            wang.gw.report_finding(
                patrol.id,
                b.id,
                CaseKind::Hazard,
                "电动车在楼道内充电",
                "ebike_indoors",
                Severity::High,
            )?;
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
    stage.inc();

    // 09:10 赵磊 checks three tenants into rented rooms of his building, offline too. The
    // third has not shown his ID card yet: the phone refuses the check-in until the number is
    // recorded (登记须核验身份证).
    clock.at(9, 10);
    let zhao = &team.zhao;
    zhao.gw.set_online(false);
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    let rooms: Vec<Household> = zhao.gw.households_of_building(head_building.id, false)?;
    let mut stays = Vec::new();
    for (i, room) in rooms.iter().take(3).enumerate() {
        if !room.kind.is_rental() {
            zhao.gw
                .update::<Household>(room.id, |h| h.kind = HouseholdKind::Rental)?;
        }
        let number = gridwork_core::seed::id_number(
            NaiveDate::from_ymd_opt(1995 + i as i32, 3 + i as u32, 12).unwrap_or_default(),
            700 + i as u16,
        );
        let tenant = zhao.gw.create(Resident {
            id: Uuid::nil(),
            household_id: room.id,
            name: ["刘洋", "黄婷", "曾志强"][i].into(),
            id_number: (i != 2).then(|| number.clone()),
            phone: Some(format!("1370571{:04}", 1000 + i)),
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        })?;
        let until = today.checked_add_days(chrono::Days::new(if i == 2 { 3 } else { 180 }));
        if i == 2 {
            match zhao.gw.check_in(tenant.id, room.id, today, until) {
                Err(e) => refusals.push(tr("demo-refused-check-in", &[("error", &core_error(&e))])),
                Ok(_) => return Err(fail("demo-fail-check-in-accepted")),
            }
            zhao.gw
                .update::<Resident>(tenant.id, |r| r.id_number = Some(number.clone()))?;
        }
        stays.push(zhao.gw.check_in(tenant.id, room.id, today, until)?);
    }
    // Nor can he add a second household on a unit of his building already recorded.
    let taken = rooms[0].unit.clone();
    match zhao.gw.create(Household {
        id: Uuid::nil(),
        building_id: head_building.id,
        unit: taken,
        kind: HouseholdKind::Rental,
        phone: None,
        archived: false,
    }) {
        Err(e) => refusals.push(tr("demo-refused-household", &[("error", &core_error(&e))])),
        Ok(_) => return Err(fail("demo-fail-household-accepted")),
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

    // 09:50 a flat of 赵磊's building was divided: he and 王芳 each record its new household,
    // offline, on the same unit. Neither phone can know of the other's; the server keeps the
    // first to arrive and refuses the second.
    clock.at(9, 50);
    let divided = |unit: &str| Household {
        id: Uuid::nil(),
        building_id: head_building.id,
        unit: unit.into(),
        kind: HouseholdKind::Rental,
        phone: None,
        archived: false,
    };
    let wang_flat = wang.gw.create(divided("9-901"))?;
    clock.advance_minutes(3.0);
    let zhao_flat = zhao.gw.create(divided("9-901"))?;

    // 10:00 李强 takes a neighbours' dispute up the three lines of defence, in order: the
    // micro-grid leader, then the gridworker, then the village secretary, who settles it.
    clock.at(10, 0);
    let li = &team.li;
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
            to: DefenceLevel::Gridworker,
            reason: "双方分歧较大，微网格长调解未果".into(),
        },
    )?;
    clock.advance_minutes(30.0);
    let skip = CaseAction::Escalate {
        to: DefenceLevel::SubdistrictMediationCentre,
        reason: "直接上交街道".into(),
    };
    match li.gw.record_case_event(d, skip) {
        Err(e) => refusals.push(tr("demo-refused-escalation", &[("error", &core_error(&e))])),
        Ok(_) => return Err(fail("demo-fail-escalation-accepted")),
    }
    step(
        &li.gw,
        d,
        CaseAction::Escalate {
            to: DefenceLevel::VillageSecretary,
            reason: "涉及楼板改造，需村书记协调".into(),
        },
    )?;
    clock.at(13, 30);
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
    // is waiting on the live long poll and gets it at once. The crew, not the dispatcher,
    // acknowledges, sets off and arrives.
    clock.at(14, 0);
    let dispatcher = &team.dispatcher;
    let crew = &team.crew;
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
        .ok_or_else(|| fail("demo-fail-arrival"))?;
    clock.advance_minutes(18.0);
    step(&crew.gw, a, CaseAction::Resolve)?;
    crew.sync().await?;
    dispatcher.sync().await?;
    clock.advance_minutes(30.0);
    step(&dispatcher.gw, a, CaseAction::Review)?;
    let alarm_steps = who_did_what(&team, &dispatcher.gw, a)?;
    stage.inc();

    // 15:30 a 110 non-police event: an elderly man lost near the market. The command centre
    // dispatches 李强 (派单); he acknowledges, sets off and is there within Wulin's 5 minutes.
    clock.at(15, 30);
    let lost = dispatcher.gw.raise_incident(
        case(
            CaseKind::Incident,
            "110非警务：老人走失",
            "police_110",
            Severity::High,
            &b2[12],
        ),
        li.gw.user_id()?,
    )?;
    dispatcher.sync().await?;
    li.sync().await?;
    let n = lost.case.id;
    clock.advance_minutes(0.5);
    step(&li.gw, n, CaseAction::Acknowledge)?;
    clock.advance_minutes(0.5);
    step(
        &li.gw,
        n,
        CaseAction::EnRoute {
            position: nearby(b2[12].position),
        },
    )?;
    clock.advance_minutes(3.0);
    step(
        &li.gw,
        n,
        CaseAction::Arrive {
            position: b2[12].position,
        },
    )?;
    clock.advance_minutes(20.0);
    step(&li.gw, n, CaseAction::Resolve)?;
    li.sync().await?;
    dispatcher.sync().await?;
    step(&dispatcher.gw, n, CaseAction::Review)?;
    stage.inc();

    // 16:30 a 12345 request comes in: the command centre accepts it and assigns it to 李强
    // by Monday night; he handles it; the resident, called back, is not satisfied, and the
    // case goes back to him (重办).
    clock.at(16, 30);
    let lamp = dispatcher.gw.receive_hotline_case(
        case(
            CaseKind::Hotline,
            "12345：小区路灯不亮",
            "street_light",
            Severity::Medium,
            &b2[1],
        ),
        li.gw.user_id()?.map(|assignee| HotlineAssignment {
            assignee,
            deadline_ms: Some(MONDAY_MS + 8 * 24 * 60 * 60_000 - 1),
        }),
    )?;
    dispatcher.sync().await?;
    li.sync().await?;
    clock.advance_minutes(45.0);
    step(&li.gw, lamp.case.id, CaseAction::Handle)?;
    li.sync().await?;
    dispatcher.sync().await?;
    clock.advance_minutes(15.0);
    let h = lamp.case.id;
    step(&dispatcher.gw, h, CaseAction::CompletionReview)?;
    step(&dispatcher.gw, h, CaseAction::CallBack { satisfied: false })?;
    step(
        &dispatcher.gw,
        h,
        CaseAction::SendBack {
            reason: "居民回访不满意：只换了一盏灯".into(),
        },
    )?;
    stage.inc();

    // 17:45 a tenant leaves early.
    clock.at(17, 45);
    zhao.gw.check_out(stays[1].id, today)?;
    stage.inc();

    // 18:00 everyone is back online.
    clock.at(18, 0);
    let offline_queued = wang.gw.pending_count()? + zhao.gw.pending_count()?;
    wang.gw.set_online(true);
    zhao.gw.set_online(true);
    for _ in 0..2 {
        team.sync_all().await?;
    }
    // One of the two households of unit 9-901 was refused: that phone shows the server's truth
    // again (its household is gone, the other one is there) and lists the refused change with
    // the reason; its user discards it.
    let (loser, lost_flat) = if wang.gw.refused_changes()?.is_empty() {
        (zhao, zhao_flat.id)
    } else {
        (wang, wang_flat.id)
    };
    let refused = loser.gw.refused_changes()?;
    let Some(change) = refused.iter().find(|r| r.record_id == lost_flat) else {
        return Err(fail("demo-fail-not-refused"));
    };
    if loser.gw.record_state(lost_flat)?.is_some() {
        return Err(fail("demo-fail-refused-stayed"));
    }
    refusals.push(tr(
        "demo-server-refused",
        &[
            ("name", loser.name),
            ("change", &change.change_words(gridwork_i18n::current())),
            ("reason", &change.words(gridwork_i18n::current())),
        ],
    ));
    loser.gw.discard_refused(change.op_id)?;
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
            team.sync_all().await?;
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
    team.sync_all().await?;
    stage.inc();
    stage.done(t("demo-played"));
    let open_cases = dispatcher.gw.open_cases()?;

    // Tuesday 08:30: the weekly meeting (周二例会) reviews Monday to Sunday.
    clock.on(8, 8, 30);
    let brief = dispatcher
        .gw
        .weekly_brief(sub.id, dispatcher.gw.review_week())?;

    let station = seeded
        .stations
        .iter()
        .find(|s| Some(s.id) == arrival.station_id);
    // Each phone must hold exactly its user's scope: what a fresh phone with the same role and
    // scope receives from the server now.
    let mut lines = Vec::new();
    for p in team.all() {
        lines.push(PhoneLine {
            name: p.name,
            role: p.role,
            digest: p.gw.state_digest()?,
            reference: p.reference_digest(dir, &url, &storage, &clock).await?,
            pending: p.gw.pending_count()?,
        });
    }
    let outcome = Outcome {
        phones: lines,
        conflict,
        alarm: AlarmStory {
            title: alarm.case.title.clone(),
            address: alarm_building.address.clone(),
            station: station.map(|s| s.name.clone()).unwrap_or_default(),
            live_delivery_ms,
            arrival_minutes: arrival.minutes,
            target_minutes: arrival.target_minutes,
            within_target: arrival.within_target,
            steps: alarm_steps,
        },
        refusals,
        policy,
        open_cases,
        brief_markdown: brief.to_markdown(),
        offline_queued,
    };
    server.shutdown().await?;
    Ok(outcome)
}

/// The steps of a case as `gw`'s timeline shows them, each with the name of the user who took
/// it: read back from the records, so the report shows who really did what.
fn who_did_what(team: &Team, gw: &Gridwork, case: Id) -> DemoResult<Vec<(String, &'static str)>> {
    let mut names = vec![(team.operator.gw.user_id()?, team.operator.name)];
    for p in team.all() {
        names.push((p.gw.user_id()?, p.name));
    }
    let mut steps = Vec::new();
    for entry in gw.case_timeline(case)? {
        let action = &entry.event.action;
        let who = names
            .iter()
            .find(|(id, _)| id.is_some() && *id == entry.event.actor)
            .map_or("?", |(_, name)| *name);
        steps.push((format!("{} {}", action.label_zh(), action.name()), who));
    }
    Ok(steps)
}

/// Monday to Thursday, as the phones' records show them: cases opened and handled on earlier
/// days, so that Friday's list has overdue and nearly-due work and the brief has a week; and on
/// Wednesday the admin sets Wulin's 1/5/30 for the subdistrict. Returns how the policy was set.
async fn history(team: &Team, seeded: &Seeded, sub: &Area, clock: &SimClock) -> DemoResult<String> {
    let gw = &team.dispatcher.gw;
    let b = &seeded.buildings;
    let n = b.len();
    // Mon 09:00: a mixed-use building with people sleeping over the shop (三合一): critical.
    clock.on(0, 9, 0);
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
    // Mon 10:00: clutter in a stairwell, medium.
    clock.on(0, 10, 0);
    gw.open_case(case(
        CaseKind::Hazard,
        "楼梯间堆放杂物",
        "clutter",
        Severity::Medium,
        &b[5],
    ))?;
    // Tue 09:30: a 110 non-police event, a ride-hailing fare dispute at the station gate, still
    // under 1-3-10: the gridworker of the grid is there in eight minutes and settles it.
    clock.on(1, 9, 30);
    let li = &team.li;
    let grid2 = &seeded.grids[1];
    let at = b
        .iter()
        .find(|x| x.grid_id == grid2.id)
        .ok_or_else(|| fail("demo-fail-seed"))?;
    let fare = gw.raise_incident(
        case(
            CaseKind::Incident,
            "110非警务：网约车车费纠纷",
            "dispute_at_scene",
            Severity::Medium,
            at,
        ),
        li.gw.user_id()?,
    )?;
    team.dispatcher.sync().await?;
    li.sync().await?;
    clock.advance_minutes(0.7);
    step(&li.gw, fare.case.id, CaseAction::Acknowledge)?;
    clock.advance_minutes(1.5);
    step(
        &li.gw,
        fare.case.id,
        CaseAction::EnRoute {
            position: nearby(at.position),
        },
    )?;
    clock.advance_minutes(6.0);
    step(
        &li.gw,
        fare.case.id,
        CaseAction::Arrive {
            position: at.position,
        },
    )?;
    clock.advance_minutes(40.0);
    step(&li.gw, fare.case.id, CaseAction::Resolve)?;
    li.sync().await?;
    team.dispatcher.sync().await?;
    step(gw, fare.case.id, CaseAction::Review)?;
    // Tue 10:30: group renting with improvised wiring; fixed Wednesday, rechecked Thursday.
    clock.on(1, 10, 30);
    let wiring = gw.open_case(case(
        CaseKind::Hazard,
        "群租房私拉电线",
        "group_rental_wiring",
        Severity::High,
        &b[n / 2],
    ))?;
    step(
        gw,
        wiring.case.id,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
    )?;
    // Tue 14:00: a parking dispute in 王芳's grid, settled by her inside the grid.
    clock.on(1, 14, 0);
    let wang = &team.wang;
    let parking = wang.gw.open_case(Case {
        area_id: seeded.grids[0].id,
        ..case(
            CaseKind::Dispute,
            "车位占用纠纷",
            "parking",
            Severity::Low,
            &b[20],
        )
    })?;
    step(
        &wang.gw,
        parking.case.id,
        CaseAction::Mediate {
            level: DefenceLevel::Gridworker,
        },
    )?;
    clock.advance_minutes(120.0);
    step(
        &wang.gw,
        parking.case.id,
        CaseAction::Settle {
            level: DefenceLevel::Gridworker,
            agreement: "错时停车".into(),
        },
    )?;
    step(&wang.gw, parking.case.id, CaseAction::Close)?;
    wang.sync().await?;
    // Wed 12:00: the subdistrict adopts Wulin's "1 minute response, 5 minutes arrival, 30
    // minutes report back"; only the admin may change an area. Every phone takes it at its
    // next sync and times the events opened from now on by it.
    clock.on(2, 12, 0);
    team.operator
        .gw
        .set_response_policy(sub.id, ResponsePolicy::wulin())?;
    team.operator.sync().await?;
    let policy = tr(
        "demo-policy",
        &[
            ("who", team.operator.name),
            ("policy", &crate::i18n::policy(&ResponsePolicy::wulin())),
        ],
    );
    team.sync_all().await?;
    clock.on(2, 15, 0);
    step(gw, wiring.case.id, CaseAction::Fix)?;
    clock.on(3, 9, 0);
    step(gw, wiring.case.id, CaseAction::Recheck { passed: true })?;
    // Thu 15:00: a kitchen fire in a building of the crew's station; the crew took six
    // minutes, beyond Wulin's five.
    clock.on(3, 15, 0);
    let crew = &team.crew;
    let station = crew.scope[0];
    let kitchen = b
        .iter()
        .rev()
        .find(|x| x.station_id == Some(station))
        .ok_or_else(|| fail("demo-fail-seed"))?;
    let fire = gw.raise_alarm(
        kitchen.id,
        "厨房油锅起火",
        "kitchen_fire",
        Some(Severity::Critical),
    )?;
    team.dispatcher.sync().await?;
    crew.sync().await?;
    clock.advance_minutes(1.0);
    step(&crew.gw, fire.case.id, CaseAction::Acknowledge)?;
    clock.advance_minutes(0.5);
    step(
        &crew.gw,
        fire.case.id,
        CaseAction::EnRoute {
            position: nearby(kitchen.position),
        },
    )?;
    clock.advance_minutes(4.5);
    step(
        &crew.gw,
        fire.case.id,
        CaseAction::Arrive {
            position: kitchen.position,
        },
    )?;
    clock.advance_minutes(25.0);
    step(&crew.gw, fire.case.id, CaseAction::Resolve)?;
    crew.sync().await?;
    team.dispatcher.sync().await?;
    step(gw, fire.case.id, CaseAction::Review)?;
    // Thu 17:00: a hotline complaint still waiting to be accepted.
    clock.on(3, 17, 0);
    gw.receive_hotline_case(
        case(
            CaseKind::Hotline,
            "12345：夜间施工噪音",
            "noise",
            Severity::Low,
            &b[40],
        ),
        None,
    )?;
    team.sync_all().await?;
    Ok(policy)
}
