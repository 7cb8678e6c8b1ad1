//! Areas, buildings, households, residents, tenants and search.

use gridwork_core::Gridwork;
use gridwork_domain::model::{Area, Household, KeyGroup, Resident};
use gridwork_domain::op::EntityKind;
use gridwork_domain::workflow::ResponsePolicy;
use serde_json::json;
use uuid::Uuid;

use super::{CliError, CliResult, local_time, today};
use crate::args::{AreaCmd, BuildingCmd, HouseholdCmd, ResidentCmd, TenantCmd};
use crate::i18n::tr;
use crate::output;

pub fn area(gw: &Gridwork, cmd: AreaCmd, json: bool) -> CliResult {
    match cmd {
        AreaCmd::List { parent } => {
            let parent = parent.map(|p| p.id(gw)).transpose()?;
            let areas = gw.child_areas(parent)?;
            output::list(json, &areas, &["id", "level", "code", "name"], |a| {
                vec![
                    a.id.to_string(),
                    crate::i18n::code("area", a.level.as_str()),
                    a.code.clone(),
                    a.name.clone(),
                ]
            });
        }
        AreaCmd::Show { id } => {
            let id = id.id(gw)?;
            let area: Area = gw.get(id)?;
            let in_force = gw.response_policy_in_force(id)?;
            output::one(
                json,
                &json!({ "area": area, "response_policy_in_force": in_force }),
                |_| {
                    let parent = area.parent_id.map(|p| p.to_string());
                    tr(
                        "cli-area-detail",
                        &[
                            ("name", &area.name),
                            ("level", &crate::i18n::code("area", area.level.as_str())),
                            ("code", &area.code),
                            ("id", &area.id.to_string()),
                            ("parent", parent.as_deref().unwrap_or("-")),
                            ("policy", &crate::i18n::policy(&in_force)),
                        ],
                    )
                },
            );
        }
        AreaCmd::Create {
            code,
            name,
            level,
            parent,
        } => {
            let parent_id = parent.map(|p| p.id(gw)).transpose()?;
            let area = gw.create(Area {
                id: Uuid::nil(),
                level,
                code,
                name,
                parent_id,
                response_policies: vec![],
            })?;
            output::one(json, &area, |a| {
                tr(
                    "cli-area-created",
                    &[
                        ("level", &crate::i18n::code("area", a.level.as_str())),
                        ("code", &a.code),
                        ("name", &a.name),
                        ("id", &a.id.to_string()),
                    ],
                )
            });
        }
        AreaCmd::Rename { id, name } => {
            let id = id.id(gw)?;
            let area = gw.update::<Area>(id, |a| a.name = name)?;
            output::one(json, &area, |a| {
                tr("cli-area-renamed", &[("code", &a.code), ("name", &a.name)])
            });
        }
        AreaCmd::Policy {
            area,
            preset,
            name,
            receive,
            respond,
            on_scene,
            report_back,
            fire_arrival,
        } => {
            let area = area.id(gw)?;
            let minutes = [receive, respond, on_scene, report_back, fire_arrival];
            if preset.is_none() && name.is_none() && minutes.iter().all(Option::is_none) {
                let history = gw.response_policies(area)?;
                output::list(json, &history, &["since", "policy"], |p| {
                    vec![
                        if p.since_ms == 0 {
                            "-".into()
                        } else {
                            local_time(p.since_ms)
                        },
                        crate::i18n::policy(p),
                    ]
                });
                return Ok(());
            }
            let mut policy = match preset.as_deref() {
                Some(p) => ResponsePolicy::preset(p)
                    .ok_or_else(|| CliError::Usage(tr("cli-unknown-preset", &[("preset", p)])))?,
                None => ResponsePolicy::one_three_ten(),
            };
            let ms = |m: f64| -> CliResult<u64> {
                if m.is_finite() && m > 0.0 {
                    Ok((m * 60_000.0).round() as u64)
                } else {
                    Err(CliError::Usage(tr("cli-minutes-positive", &[])))
                }
            };
            if let Some(m) = receive {
                policy.receive_ms = ms(m)?;
            }
            if let Some(m) = respond {
                policy.respond_ms = ms(m)?;
            }
            if let Some(m) = on_scene {
                policy.on_scene_ms = ms(m)?;
            }
            if let Some(m) = report_back {
                policy.report_back_ms = Some(ms(m)?);
            }
            if let Some(m) = fire_arrival {
                policy.fire_arrival_target_ms = ms(m)?;
            }
            if minutes.iter().any(Option::is_some) {
                policy.name = "custom".into();
            }
            if let Some(name) = name {
                policy.name = name;
            }
            let history = gw.set_response_policy(area, policy)?;
            output::one(json, &history, |h| {
                let set = h.last().map(crate::i18n::policy).unwrap_or_default();
                tr("cli-policy-set", &[("policy", &set)])
            });
        }
    }
    Ok(())
}

/// Stays with their tenant and room.
fn stay_list(json: bool, stays: &[gridwork_core::StayView]) {
    output::list(
        json,
        stays,
        &[
            "registration",
            "name",
            "address",
            "unit",
            "check-in",
            "expected end",
        ],
        |s| {
            vec![
                s.registration.id.to_string(),
                s.resident_name.clone(),
                s.address.clone(),
                s.unit.clone(),
                s.registration.check_in.to_string(),
                s.registration
                    .expected_end
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ]
        },
    );
}

pub fn building(gw: &Gridwork, cmd: BuildingCmd, json: bool) -> CliResult {
    match cmd {
        BuildingCmd::List { area } => {
            let list = gw.buildings_in_area(area.id(gw)?)?;
            output::list(
                json,
                &list,
                &["id", "address code", "address", "kind"],
                |b| {
                    vec![
                        b.id.to_string(),
                        b.address_code.clone(),
                        b.address.clone(),
                        crate::i18n::code("building", b.kind.as_str()),
                    ]
                },
            );
        }
        BuildingCmd::Add {
            grid,
            micro_grid,
            address_code,
            address,
            kind,
            station,
            lat,
            lon,
        } => {
            let position = match (lat, lon) {
                (Some(lat), Some(lon)) => Some(
                    gridwork_domain::validate::Position::new("building.position", lat, lon)
                        .map_err(gridwork_core::Error::from)?,
                ),
                _ => None,
            };
            let b = gw.create(gridwork_domain::model::Building {
                id: Uuid::nil(),
                address_code,
                address,
                kind,
                grid_id: grid.id(gw)?,
                micro_grid_id: micro_grid.map(|m| m.id(gw)).transpose()?,
                head_user_id: None,
                station_id: station,
                position,
            })?;
            output::one(json, &b, |b| {
                tr(
                    "cli-building-added",
                    &[("address", &b.address), ("id", &b.id.to_string())],
                )
            });
        }
        BuildingCmd::Edit {
            id,
            kind,
            head,
            address,
            station,
            micro_grid,
            lat,
            lon,
        } => {
            let id = id.id(gw)?;
            let micro_grid = micro_grid.map(|m| m.id(gw)).transpose()?;
            let position = match (lat, lon) {
                (Some(lat), Some(lon)) => Some(
                    gridwork_domain::validate::Position::new("building.position", lat, lon)
                        .map_err(gridwork_core::Error::from)?,
                ),
                _ => None,
            };
            let b = gw.update::<gridwork_domain::model::Building>(id, |b| {
                if let Some(k) = kind {
                    b.kind = k;
                }
                if head.is_some() {
                    b.head_user_id = head;
                }
                if let Some(a) = address {
                    b.address = a;
                }
                if station.is_some() {
                    b.station_id = station;
                }
                if micro_grid.is_some() {
                    b.micro_grid_id = micro_grid;
                }
                if position.is_some() {
                    b.position = position;
                }
            })?;
            output::one(json, &b, |b| {
                tr("cli-building-updated", &[("address", &b.address)])
            });
        }
        BuildingCmd::Photo(cmd) => {
            let id = crate::args::BuildingRef(cmd.id().trim().to_string()).id(gw)?;
            super::attachments::record_photo(gw, EntityKind::Building, id, cmd, json)?;
        }
    }
    Ok(())
}

pub fn household(gw: &Gridwork, cmd: HouseholdCmd, json: bool) -> CliResult {
    match cmd {
        HouseholdCmd::List { building, archived } => {
            let list = gw.households_of_building(building.id(gw)?, archived)?;
            output::list(
                json,
                &list,
                &["id", "unit", "kind", "phone", "archived"],
                |h| {
                    vec![
                        h.id.to_string(),
                        h.unit.clone(),
                        crate::i18n::code("household", h.kind.as_str()),
                        h.phone.clone().unwrap_or_default(),
                        if h.archived {
                            crate::i18n::t("cli-yes")
                        } else {
                            String::new()
                        },
                    ]
                },
            );
        }
        HouseholdCmd::Add {
            building,
            unit,
            kind,
            phone,
        } => {
            let h = gw.create(Household {
                id: Uuid::nil(),
                building_id: building.id(gw)?,
                unit,
                kind,
                phone,
                archived: false,
            })?;
            output::one(json, &h, |h| {
                tr(
                    "cli-household-added",
                    &[("unit", &h.unit), ("id", &h.id.to_string())],
                )
            });
        }
        HouseholdCmd::Edit {
            id,
            unit,
            kind,
            phone,
        } => {
            let h = gw.update::<Household>(id, |h| {
                if let Some(u) = unit {
                    h.unit = u;
                }
                if let Some(k) = kind {
                    h.kind = k;
                }
                if let Some(p) = phone {
                    h.phone = Some(p);
                }
            })?;
            output::one(json, &h, |h| {
                tr("cli-household-updated", &[("unit", &h.unit)])
            });
        }
        HouseholdCmd::Archive { id } => {
            let h = gw.update::<Household>(id, |h| h.archived = true)?;
            output::one(json, &h, |h| {
                tr("cli-household-archived", &[("unit", &h.unit)])
            });
        }
        HouseholdCmd::Photo(cmd) => {
            let id = crate::args::HouseholdRef(cmd.id().trim().to_string()).id(gw)?;
            super::attachments::record_photo(gw, EntityKind::Household, id, cmd, json)?;
        }
    }
    Ok(())
}

pub fn resident(gw: &Gridwork, cmd: ResidentCmd, json: bool) -> CliResult {
    match cmd {
        ResidentCmd::List { household } => {
            let list = gw.residents_of_household(household.id(gw)?)?;
            output::list(
                json,
                &list,
                &["id", "name", "ID number", "phone", "key groups"],
                |r| {
                    vec![
                        r.id.to_string(),
                        r.name.clone(),
                        r.id_number_masked.clone().unwrap_or_default(),
                        r.phone.clone().unwrap_or_default(),
                        r.key_groups
                            .iter()
                            .map(|k| crate::i18n::code("keygroup", k.as_str()))
                            .collect::<Vec<_>>()
                            .join(","),
                    ]
                },
            );
        }
        ResidentCmd::Show { id } => {
            let r = gw.resident_for_view(id)?;
            output::one(json, &r, |r| {
                let groups = r
                    .key_groups
                    .iter()
                    .map(|k| crate::i18n::code("keygroup", k.as_str()))
                    .collect::<Vec<_>>();
                let mut text = tr(
                    "cli-resident-detail",
                    &[
                        ("name", &r.name),
                        ("id", &r.id.to_string()),
                        ("household", &r.household_id.to_string()),
                        ("id_number", r.id_number.as_deref().unwrap_or("-")),
                        ("phone", r.phone.as_deref().unwrap_or("-")),
                        (
                            "groups",
                            &if groups.is_empty() {
                                "-".to_string()
                            } else {
                                groups.join("、")
                            },
                        ),
                    ],
                );
                if r.archived {
                    text.push('\n');
                    text.push_str(&crate::i18n::t("cli-resident-archived-mark"));
                }
                text
            });
        }
        ResidentCmd::Add {
            household,
            name,
            id_number,
            phone,
            key_groups,
        } => {
            let r = gw.create(Resident {
                id: Uuid::nil(),
                household_id: household.id(gw)?,
                name,
                id_number,
                phone,
                key_groups,
                last_visit_ms: None,
                archived: false,
            })?;
            let summary = gridwork_core::ResidentSummary::from(r);
            output::one(json, &summary, |r| {
                tr(
                    "cli-resident-added",
                    &[("name", &r.name), ("id", &r.id.to_string())],
                )
            });
        }
        ResidentCmd::Edit {
            id,
            name,
            phone,
            id_number,
            key_groups,
            household,
        } => {
            let household = household.map(|h| h.id(gw)).transpose()?;
            let key_groups = key_groups.map(|groups| {
                let mut kept: Vec<KeyGroup> = vec![];
                for g in groups.into_iter().flatten() {
                    if !kept.contains(&g) {
                        kept.push(g);
                    }
                }
                kept
            });
            let r = gw.update::<Resident>(id, |r| {
                if let Some(n) = name {
                    r.name = n;
                }
                if let Some(p) = phone {
                    r.phone = Some(p);
                }
                if let Some(n) = id_number {
                    r.id_number = Some(n);
                }
                if let Some(g) = key_groups {
                    r.key_groups = g;
                }
                if let Some(h) = household {
                    r.household_id = h;
                }
            })?;
            let summary = gridwork_core::ResidentSummary::from(r);
            output::one(json, &summary, |r| {
                tr("cli-resident-updated", &[("name", &r.name)])
            });
        }
        ResidentCmd::Archive { id } => {
            let r = gw.update::<Resident>(id, |r| r.archived = true)?;
            let summary = gridwork_core::ResidentSummary::from(r);
            output::one(json, &summary, |r| {
                tr("cli-resident-archived", &[("name", &r.name)])
            });
        }
    }
    Ok(())
}

pub fn tenant(gw: &Gridwork, cmd: TenantCmd, json: bool) -> CliResult {
    match cmd {
        TenantCmd::CheckIn {
            resident,
            household,
            from,
            until,
        } => {
            let reg = gw.check_in(
                resident,
                household.id(gw)?,
                from.unwrap_or_else(|| today(gw)),
                until,
            )?;
            output::one(json, &reg, |r| {
                tr(
                    "cli-checked-in",
                    &[("from", &r.check_in.to_string()), ("id", &r.id.to_string())],
                )
            });
        }
        TenantCmd::CheckOut { registration, on } => {
            let reg = gw.check_out(registration, on.unwrap_or_else(|| today(gw)))?;
            output::one(json, &reg, |r| {
                tr(
                    "cli-checked-out",
                    &[(
                        "on",
                        &r.check_out.map(|d| d.to_string()).unwrap_or_default(),
                    )],
                )
            });
        }
        TenantCmd::Rate { area } => {
            let report = gw.registration_rate(area.id(gw)?)?;
            output::one(json, &report, |r| {
                let line = |name: &str, rate: &gridwork_domain::workflow::RegistrationRate| {
                    tr(
                        "cli-registration-rate",
                        &[
                            ("name", name),
                            ("people", &format!("{:.1}", rate.person_rate * 100.0)),
                            ("registered", &rate.registered_people.to_string()),
                            ("living", &rate.people_in_rentals.to_string()),
                            ("rooms", &format!("{:.1}", rate.room_rate * 100.0)),
                            ("registered_rooms", &rate.registered_rooms.to_string()),
                            ("occupied", &rate.occupied_rental_rooms.to_string()),
                        ],
                    )
                };
                let mut out = line(&crate::i18n::t("cli-registration-whole-area"), &r.area);
                for g in &r.grids {
                    out.push('\n');
                    out.push_str(&line(&format!("  {}", g.grid_name), &g.rate));
                }
                out
            });
        }
        TenantCmd::Rooms { area } => {
            let rooms = gw.unregistered_rooms(area.id(gw)?)?;
            output::list(
                json,
                &rooms,
                &[
                    "household",
                    "address",
                    "unit",
                    "unregistered people",
                    "nobody registered",
                ],
                |r| {
                    vec![
                        r.household_id.to_string(),
                        r.address.clone(),
                        r.unit.clone(),
                        r.unregistered_people.to_string(),
                        if r.any_registered {
                            String::new()
                        } else {
                            crate::i18n::t("cli-yes")
                        },
                    ]
                },
            );
        }
        TenantCmd::Unregistered { area } => {
            let people = gw.unregistered_tenants(area.id(gw)?)?;
            output::list(
                json,
                &people,
                &["resident", "name", "ID number", "address", "unit"],
                |p| {
                    vec![
                        p.resident_id.to_string(),
                        p.name.clone(),
                        p.id_number_masked
                            .clone()
                            .unwrap_or_else(|| crate::i18n::t("cli-none")),
                        p.address.clone(),
                        p.unit.clone(),
                    ]
                },
            );
        }
        TenantCmd::Expiring { area, days } => {
            let stays = gw.expiring_stays(area.id(gw)?, today(gw), days)?;
            stay_list(json, &stays);
        }
        TenantCmd::Overdue { area } => {
            let stays = gw.overdue_stays(area.id(gw)?, today(gw))?;
            stay_list(json, &stays);
        }
        TenantCmd::List { resident } => {
            let list = gw.registrations_of_resident(resident)?;
            output::list(
                json,
                &list,
                &["id", "check-in", "expected end", "check-out"],
                |r| {
                    vec![
                        r.id.to_string(),
                        r.check_in.to_string(),
                        r.expected_end.map(|d| d.to_string()).unwrap_or_default(),
                        r.check_out.map(|d| d.to_string()).unwrap_or_default(),
                    ]
                },
            );
        }
    }
    Ok(())
}

pub fn search(gw: &Gridwork, query: &str, limit: usize, json: bool) -> CliResult {
    let hits = gw.search(query, limit)?;
    output::list(json, &hits, &["kind", "id", "text"], |h| {
        vec![h.kind.as_str().into(), h.id.to_string(), h.text.clone()]
    });
    Ok(())
}
