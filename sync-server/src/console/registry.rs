//! The ledger pages: registration and key groups by grid (登记与重点人群), the phones of the
//! area's users with their last sync and unsynced count (as the phones report them,
//! [`crate::device_status`]), and a schematic of the buildings placed by their positions (SVG drawn here,
//! no map tiles).

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use gridwork_domain::ids::Id;
use gridwork_domain::model::{AreaLevel, Term};
use gridwork_domain::workflow::{KeyGroupPolicy, overdue_visits, registration_rate};

use super::world::World;
use super::{Nav, Refusal, html, labels, signed_in};
use crate::http::AppState;
use crate::storage::Storage;

/// One grid's registration and key-group line.
#[derive(Debug, Clone)]
pub struct RegistrationLine {
    pub grid: String,
    pub rooms: usize,
    pub registered_rooms: usize,
    pub room_rate: String,
    pub people: usize,
    pub registered_people: usize,
    pub person_rate: String,
    pub key_group: usize,
    pub overdue: usize,
}

#[derive(Template)]
#[template(path = "console/registration.html")]
struct RegistrationPage {
    nav: Nav,
    lines: Vec<RegistrationLine>,
}

/// The lines of every grid of `world` at `now_ms`.
pub fn registration_lines(world: &World, now_ms: u64) -> Vec<RegistrationLine> {
    let mut out = Vec::new();
    for grid in world.areas_at(AreaLevel::Grid) {
        let in_grid = |b: Id| {
            world
                .buildings
                .get(&b)
                .is_some_and(|b| world.grid_of(b.grid_id).map(|g| g.id) == Some(grid.id))
        };
        let households: Vec<_> = world
            .households
            .values()
            .filter(|h| in_grid(h.building_id))
            .cloned()
            .collect();
        let ids: std::collections::HashSet<Id> = households.iter().map(|h| h.id).collect();
        let residents: Vec<_> = world
            .residents
            .values()
            .filter(|r| ids.contains(&r.household_id))
            .cloned()
            .collect();
        let stays: Vec<_> = world
            .registrations
            .iter()
            .filter(|r| ids.contains(&r.household_id))
            .cloned()
            .collect();
        let rate = registration_rate(&households, &residents, &stays);
        let key_group = residents
            .iter()
            .filter(|r| !r.archived && !r.key_groups.is_empty())
            .count();
        out.push(RegistrationLine {
            grid: grid.name.clone(),
            rooms: rate.occupied_rental_rooms,
            registered_rooms: rate.registered_rooms,
            room_rate: super::brief::pct(rate.room_rate),
            people: rate.people_in_rentals,
            registered_people: rate.registered_people,
            person_rate: super::brief::pct(rate.person_rate),
            key_group,
            overdue: overdue_visits(&residents, &KeyGroupPolicy::default(), now_ms).len(),
        });
    }
    out
}

/// `GET /console/registration`.
pub async fn registration<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    Ok(html(RegistrationPage {
        nav: Nav::of(&signed, "registration"),
        lines: registration_lines(&world, state.now_ms()),
    }))
}

/// One phone.
#[derive(Debug, Clone)]
pub struct PhoneLine {
    pub user: String,
    pub role: &'static str,
    pub name: String,
    pub enrolled: String,
    pub status: &'static str,
    /// Its last sync: `5分钟前`, or `从未同步`.
    pub synced: String,
    /// Its last sync's date and time (the cell's title), empty when it never synced.
    pub synced_at: String,
    /// The changes its outbox held at its last sync: a number, `未上报` from an app that does
    /// not report it, `—` when it never synced.
    pub unsynced: String,
    /// Whether changes are waiting on the phone (the count is shown as a warning).
    pub waiting: bool,
}

/// The sync columns of a phone's line from its status at `now_ms`: (last sync, its date and
/// time, unsynced count, whether changes wait).
pub fn sync_words(
    status: Option<&crate::storage::DeviceStatus>,
    now_ms: u64,
) -> (String, String, String, bool) {
    match status {
        None => ("从未同步".into(), String::new(), "—".into(), false),
        Some(s) => (
            labels::ago(s.synced_ms, now_ms),
            labels::datetime(s.synced_ms),
            s.unsynced
                .map_or_else(|| "未上报".into(), |n| n.to_string()),
            s.unsynced.is_some_and(|n| n > 0),
        ),
    }
}

#[derive(Template)]
#[template(path = "console/phones.html")]
struct PhonesPage {
    nav: Nav,
    phones: Vec<PhoneLine>,
}

/// `GET /console/phones`: the enrolled phones of the users whose scope lies in the signed-in
/// user's area.
pub async fn phones<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let everything = signed.view.is_everything();
    let now_ms = state.now_ms();
    let statuses = state.device_status.current(state.storage.as_ref()).await?;
    let mut phones: Vec<PhoneLine> = state
        .storage
        .list_devices()
        .await?
        .into_iter()
        .filter_map(|d| {
            let user = world.users.get(&d.user_id)?;
            let ours = everything
                || user.scope.iter().any(|s| {
                    world.areas.contains_key(s)
                        || world.buildings.contains_key(s)
                        || world.stations.contains_key(s)
                });
            let (synced, synced_at, unsynced, waiting) = sync_words(statuses.get(&d.id), now_ms);
            ours.then(|| PhoneLine {
                user: user.name.clone(),
                role: user.role.zh(),
                name: d.name.clone(),
                enrolled: labels::datetime(d.enrolled_ms),
                status: if d.revoked_ms.is_some() {
                    "已吊销"
                } else {
                    "在用"
                },
                synced,
                synced_at,
                unsynced,
                waiting,
            })
        })
        .collect();
    phones.sort_by(|a, b| a.user.cmp(&b.user).then(a.name.cmp(&b.name)));
    Ok(html(PhonesPage {
        nav: Nav::of(&signed, "phones"),
        phones,
    }))
}

/// One building on the schematic.
#[derive(Debug, Clone)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub label: String,
    /// `red`, `yellow`, `green` or `none`: the worst colour of its open cases.
    pub colour: &'static str,
    pub alarm: bool,
    /// The building's page (none for a station).
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "console/map.html")]
struct MapPage {
    nav: Nav,
    width: f64,
    height: f64,
    dots: Vec<Dot>,
    stations: Vec<Dot>,
    unplaced: usize,
    /// Every building, placed or not, by address: (its page, its address).
    buildings: Vec<(String, String)>,
}

/// The schematic's size in SVG units.
const W: f64 = 1000.0;
const H: f64 = 640.0;
const MARGIN: f64 = 30.0;

/// Places every positioned building and station of `world` in a `W`×`H` box (longitude to
/// the right, latitude up, equal scale on both), coloured by its open cases at `now_ms`.
pub fn schematic(world: &World, now_ms: u64) -> (Vec<Dot>, Vec<Dot>, usize) {
    let points: Vec<(f64, f64)> = world
        .buildings
        .values()
        .filter_map(|b| b.position.map(|p| (p.lon, p.lat)))
        .chain(
            world
                .stations
                .values()
                .map(|s| (s.position.lon, s.position.lat)),
        )
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &points {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-6);
    let scale = ((W - 2.0 * MARGIN).min(H - 2.0 * MARGIN)) / span;
    let place = |lon: f64, lat: f64| (MARGIN + (lon - x0) * scale, H - MARGIN - (lat - y0) * scale);
    let board = super::board::board(world, now_ms);
    let colour_of = |case: Id| board.cases.iter().find(|c| c.id == case).map(|c| c.colour);
    let mut dots = Vec::new();
    let mut unplaced = 0;
    for b in world.buildings.values() {
        let Some(p) = b.position else {
            unplaced += 1;
            continue;
        };
        let (x, y) = place(p.lon, p.lat);
        let mut worst = "none";
        let mut alarm = false;
        for c in world
            .cases
            .iter()
            .filter(|c| c.case.building_id == Some(b.id))
        {
            if board.alarms.iter().any(|a| a.id == c.case.id) {
                alarm = true;
            }
            let colour = colour_of(c.case.id).unwrap_or("none");
            let rank = |c: &str| match c {
                "red" => 3,
                "yellow" => 2,
                "green" => 1,
                _ => 0,
            };
            if rank(colour) > rank(worst) {
                worst = colour;
            }
        }
        dots.push(Dot {
            x,
            y,
            label: b.address.clone(),
            colour: worst,
            alarm,
            href: Some(format!("/console/buildings/{}", b.id)),
        });
    }
    let stations = world
        .stations
        .values()
        .map(|s| {
            let (x, y) = place(s.position.lon, s.position.lat);
            Dot {
                x,
                y,
                label: s.name.clone(),
                colour: "none",
                alarm: false,
                href: None,
            }
        })
        .collect();
    (dots, stations, unplaced)
}

/// `GET /console/map`.
pub async fn map<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let (dots, stations, unplaced) = schematic(&world, state.now_ms());
    let mut buildings: Vec<(String, String)> = world
        .buildings
        .values()
        .map(|b| (format!("/console/buildings/{}", b.id), b.address.clone()))
        .collect();
    buildings.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(html(MapPage {
        buildings,
        nav: Nav::of(&signed, "map"),
        width: W,
        height: H,
        dots,
        stations,
        unplaced,
    }))
}

/// The key groups' Chinese names, for the registration page's legend.
pub fn key_group_names() -> String {
    gridwork_domain::model::KeyGroup::ALL
        .iter()
        .map(|k| k.zh())
        .collect::<Vec<_>>()
        .join("、")
}
