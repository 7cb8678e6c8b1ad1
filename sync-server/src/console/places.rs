//! A building's page and a household's page (楼宇、房屋, issue 24): the record's fields, its
//! photos (ADR 0043: a thumbnail each, linked to the whole picture through
//! `/console/blobs/{hash}`, which serves them only to a user whose scope covers the record),
//! and what hangs off it (a building's rooms and cases).
//!
//! The record is read by the rule a phone's snapshot uses ([`reading::admit_record`] on the
//! record's current place): a building or household outside the user's scope is the one 404
//! of a record that does not exist.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gridwork_domain::attachment::{self, AttachmentRef};
use gridwork_domain::ids::Id;
use gridwork_domain::merge::RecordState;
use gridwork_domain::model::{Building, Household, Term};
use gridwork_domain::op::EntityKind;

use super::world::World;
use super::{Nav, PhotoLink, Refusal, html, labels, signed_in};
use crate::http::AppState;
use crate::rules::reading::{self, ScopeFilter};
use crate::storage::Storage;

/// One photo a record holds, as the page shows it.
#[derive(Debug, Clone)]
pub struct PhotoCard {
    pub link: PhotoLink,
    /// When it dates from: `拍摄于 …` (the camera's time) or, without one, `添加于 …` (when the
    /// phone attached it: its field's stamp).
    pub when: String,
    /// The picture's hash (the element's id in the page).
    pub hash: String,
}

fn photo_cards(state: &RecordState) -> Vec<PhotoCard> {
    attachment::record_photos(&state.fields)
        .iter()
        .map(|a: &AttachmentRef| PhotoCard {
            link: PhotoLink::of_ref(a),
            when: labels::photo_time(
                a.taken_at_ms,
                state
                    .stamps
                    .get(&attachment::photo_field(&a.blob.hash))
                    .map(|s| s.hlc.physical_ms()),
            ),
            hash: a.blob.hash.to_string(),
        })
        .collect()
}

/// A line of a list on the page: words and where they link.
#[derive(Debug, Clone)]
pub struct Row {
    pub href: String,
    pub words: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "console/building.html")]
struct BuildingPage {
    nav: Nav,
    id: Id,
    address: String,
    address_code: String,
    kind: &'static str,
    grid: String,
    station: String,
    position: String,
    photos: Vec<PhotoCard>,
    households: Vec<Row>,
    cases: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console/household.html")]
struct HouseholdPage {
    nav: Nav,
    id: Id,
    unit: String,
    kind: &'static str,
    status: &'static str,
    building: Row,
    photos: Vec<PhotoCard>,
}

const NOT_HERE_BUILDING: &str = "没有这栋楼宇，或它不在您的辖区内";
const NOT_HERE_HOUSEHOLD: &str = "没有这个房屋，或它不在您的辖区内";

/// The record `id` of `kind` as the user may see it, with its model, or the page's 404.
async fn visible_record<S: Storage, T: serde::de::DeserializeOwned>(
    state: &AppState<S>,
    filter: &ScopeFilter,
    id: &str,
    kind: EntityKind,
    missing: &str,
) -> Result<(RecordState, T), Refusal> {
    let not_here = || Refusal::Status(StatusCode::NOT_FOUND, missing.into());
    let id = uuid::Uuid::try_parse(id).map_err(|_| not_here())?;
    let record = state
        .storage
        .placed_record(id)
        .await?
        .filter(|r| r.state.kind == kind)
        .and_then(|r| reading::admit_record(filter, r))
        .filter(|s| !s.is_deleted())
        .ok_or_else(not_here)?;
    let model = record.decode().map_err(|_| not_here())?;
    Ok((record, model))
}

/// `GET /console/buildings/{id}`.
pub async fn building<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let filter = ScopeFilter::for_view(signed.view.clone());
    let (record, b): (_, Building) = visible_record(
        &state,
        &filter,
        &id,
        EntityKind::Building,
        NOT_HERE_BUILDING,
    )
    .await?;
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let mut households: Vec<&Household> = world
        .households
        .values()
        .filter(|h| h.building_id == b.id)
        .collect();
    households.sort_by(|x, y| x.unit.cmp(&y.unit));
    let mut cases: Vec<_> = world
        .cases
        .iter()
        .filter(|c| c.case.building_id == Some(b.id))
        .collect();
    cases.sort_by_key(|c| std::cmp::Reverse(c.case.opened_at_ms));
    Ok(html(BuildingPage {
        nav: Nav::of(&signed, "map"),
        id: b.id,
        address: b.address.clone(),
        address_code: b.address_code.clone(),
        kind: b.kind.zh(),
        grid: world
            .areas
            .get(&b.grid_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "—".into()),
        station: b
            .station_id
            .and_then(|s| world.stations.get(&s))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "—".into()),
        position: b
            .position
            .map(|p| format!("经度 {:.5}，纬度 {:.5}", p.lon, p.lat))
            .unwrap_or_else(|| "未录入".into()),
        photos: photo_cards(&record),
        households: households
            .into_iter()
            .map(|h| Row {
                href: format!("/console/households/{}", h.id),
                words: h.unit.clone(),
                note: household_note(h).into(),
            })
            .collect(),
        cases: cases
            .into_iter()
            .map(|c| Row {
                href: format!("/console/cases/{}", c.case.id),
                words: format!("{}：{}", c.case.kind.zh(), c.case.title),
                note: labels::state_zh(&c.fold.state),
            })
            .collect(),
    }))
}

/// A household's kind and whether it still lives there.
fn household_note(h: &Household) -> &'static str {
    if h.archived { "已迁出" } else { h.kind.zh() }
}

/// `GET /console/households/{id}`.
pub async fn household<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let filter = ScopeFilter::for_view(signed.view.clone());
    let (record, h): (_, Household) = visible_record(
        &state,
        &filter,
        &id,
        EntityKind::Household,
        NOT_HERE_HOUSEHOLD,
    )
    .await?;
    // The building's address, when the user may see the building.
    let address = state
        .storage
        .placed_record(h.building_id)
        .await?
        .and_then(|r| reading::admit_record(&filter, r))
        .and_then(|s| s.decode::<Building>().ok())
        .map(|b| b.address)
        .unwrap_or_else(|| "—".into());
    Ok(html(HouseholdPage {
        nav: Nav::of(&signed, "map"),
        id: h.id,
        unit: h.unit.clone(),
        kind: h.kind.zh(),
        status: if h.archived { "已迁出" } else { "在住" },
        building: Row {
            href: format!("/console/buildings/{}", h.building_id),
            words: address,
            note: String::new(),
        },
        photos: photo_cards(&record),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridwork_domain::attachment::{BlobHash, BlobRef};
    use gridwork_domain::hlc::{Hlc, Stamp};
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn photo(bytes: &[u8], taken_at_ms: Option<u64>) -> AttachmentRef {
        AttachmentRef {
            blob: BlobRef {
                hash: BlobHash::of(bytes),
                size: bytes.len() as u64,
            },
            media_type: "image/jpeg".into(),
            thumbnail: Some(BlobRef {
                hash: BlobHash::of(&[bytes, b" thumb"].concat()),
                size: 10,
            }),
            taken_at_ms,
            position: None,
        }
    }

    #[test]
    fn a_photo_card_says_when_it_was_taken_or_else_when_it_was_added() {
        // 2026-12-06 11:00 UTC (19:00 in China): the camera's time of the first photo.
        let taken = 1_796_554_800_000;
        let with_time = photo(b"with exif", Some(taken));
        let without_time = photo(b"no exif", None);
        let mut fields = serde_json::Map::new();
        let mut stamps = BTreeMap::new();
        let device = Uuid::from_u128(7);
        // Attached on the phone at 2026-12-06 12:30 and 13:05 UTC (20:30 and 21:05 in China).
        for (p, added_ms) in [
            (&with_time, taken + 90 * 60_000),
            (&without_time, taken + 125 * 60_000),
        ] {
            let field = attachment::photo_field(&p.blob.hash);
            fields.insert(field.clone(), serde_json::to_value(p).unwrap());
            stamps.insert(field, Stamp::new(Hlc::new(added_ms, 3), device));
        }
        let state = RecordState {
            kind: EntityKind::Building,
            id: Uuid::from_u128(1),
            fields,
            stamps,
            tombstone: None,
        };
        let cards = photo_cards(&state);
        let by_hash = |p: &AttachmentRef| {
            cards
                .iter()
                .find(|c| c.hash == p.blob.hash.to_string())
                .unwrap_or_else(|| panic!("no card for {}", p.blob.hash))
                .when
                .clone()
        };
        assert_eq!(cards.len(), 2);
        // The camera's time wins over the stamp when the picture had one.
        assert_eq!(by_hash(&with_time), "拍摄于 2026-12-06 19:00");
        // Without it, the field's stamp: when the phone attached the photo.
        assert_eq!(by_hash(&without_time), "添加于 2026-12-06 21:05");
    }
}
