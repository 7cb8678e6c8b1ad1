//! The records of an area and every area below it, as the workflows read them: its grids, its
//! buildings, their households, residents and registrations, its cases with their folds, the
//! patrol visits at its buildings, and the micro fire stations on the device.
//!
//! Every query starts from the same recursive subtree of areas ([`SUBTREE`]) and walks down the
//! references the schema indexes (`buildings_by_grid`, `households_by_building`,
//! `residents_by_household`, `registrations_by_household`, `cases_by_area`), so a grid's figures
//! cost a few index lookups even in a subdistrict-sized store. Records only partly known (a
//! field write that arrived before the record's creation) are skipped: they cannot be decoded
//! into the model yet, and the next sync completes them.

use gridwork_domain::ids::Id;
use gridwork_domain::model::{
    Area, AreaLevel, Building, Case, Entity, Household, PatrolVisit, Registration, Resident,
    Station,
};
use gridwork_domain::workflow::CaseFold;
use rusqlite::{Connection, params_from_iter};
use serde_json::{Map, Value};

use crate::error::Result;

/// The ids of area `?1` and of every area below it, as the CTE `subtree(id)`.
pub(crate) const SUBTREE: &str = "WITH RECURSIVE subtree(id) AS (
        SELECT ?1
        UNION
        SELECT r.id FROM records r JOIN subtree s ON r.parent = s.id
        WHERE r.kind = 'area' AND r.tombstone IS NULL
    )";

/// The live buildings of the subtree, as the CTE `blds(id)`; follows [`SUBTREE`]. A building
/// belongs to the area when its grid or micro-grid is in the subtree.
const BUILDINGS: &str = ", blds(id) AS (
        SELECT id FROM records WHERE kind = 'building' AND tombstone IS NULL
        AND (parent IN subtree
             OR json_extract(fields, '$.micro_grid_id') IN subtree)
    )";

/// The live households of those buildings, as the CTE `hhs(id)`; follows [`BUILDINGS`].
const HOUSEHOLDS: &str = ", hhs(id) AS (
        SELECT id FROM records WHERE kind = 'household' AND tombstone IS NULL
        AND parent IN blds
    )";

/// Records keyed by id, for joining lists in memory.
pub(crate) fn by_id<T: Entity>(records: Vec<T>) -> std::collections::HashMap<Id, T> {
    records.into_iter().map(|r| (r.id(), r)).collect()
}

/// Turns the stored JSON fields of a record and its id into the model type, or `None` when the
/// record is only partly known.
pub(crate) fn decode_fields<T: Entity>(id: String, fields: &str) -> Result<Option<T>> {
    let mut obj: Map<String, Value> = serde_json::from_str(fields)?;
    obj.insert("id".into(), Value::String(id));
    Ok(serde_json::from_value(Value::Object(obj)).ok())
}

/// Runs a query returning `(id, fields)` rows and decodes them into model records.
pub(crate) fn decode_rows<T: Entity>(
    conn: &Connection,
    sql: &str,
    args: &[String],
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, fields) = row?;
        out.extend(decode_fields::<T>(id, &fields)?);
    }
    Ok(out)
}

/// The area itself and the grids below it; when the area is a grid or a micro-grid, just the
/// area (it is its own "grid" for the figures).
pub(crate) fn grids_of(conn: &Connection, area: &Area) -> Result<Vec<Area>> {
    if matches!(area.level, AreaLevel::Grid | AreaLevel::MicroGrid) {
        return Ok(vec![area.clone()]);
    }
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}
             SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
             AND id IN subtree AND json_extract(fields, '$.level') = 'grid'
             ORDER BY json_extract(fields, '$.code')"
        ),
        &[area.id.to_string()],
    )
}

/// The area and every area below it.
pub(crate) fn areas(conn: &Connection, area_id: Id) -> Result<Vec<Area>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}
             SELECT id, fields FROM records WHERE kind = 'area' AND tombstone IS NULL
             AND id IN subtree"
        ),
        &[area_id.to_string()],
    )
}

/// The buildings of the area, by address code.
pub(crate) fn buildings(conn: &Connection, area_id: Id) -> Result<Vec<Building>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}{BUILDINGS}
             SELECT id, fields FROM records WHERE kind = 'building' AND id IN blds
             ORDER BY json_extract(fields, '$.address_code')"
        ),
        &[area_id.to_string()],
    )
}

/// The households of the area's buildings (archived ones included: callers decide), by unit.
pub(crate) fn households(conn: &Connection, area_id: Id) -> Result<Vec<Household>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}{BUILDINGS}{HOUSEHOLDS}
             SELECT id, fields FROM records WHERE kind = 'household' AND id IN hhs
             ORDER BY json_extract(fields, '$.unit')"
        ),
        &[area_id.to_string()],
    )
}

/// The residents of the area's households (archived ones included).
pub(crate) fn residents(conn: &Connection, area_id: Id) -> Result<Vec<Resident>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}{BUILDINGS}{HOUSEHOLDS}
             SELECT id, fields FROM records WHERE kind = 'resident' AND tombstone IS NULL
             AND parent IN hhs
             ORDER BY json_extract(fields, '$.name')"
        ),
        &[area_id.to_string()],
    )
}

/// Every registration (active or not) of the area's households.
/// (Named index: without statistics SQLite would rather read every registration through
/// `records_by_parent` by kind than look each household up, ADR 0047.)
pub(crate) fn registrations(conn: &Connection, area_id: Id) -> Result<Vec<Registration>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}{BUILDINGS}{HOUSEHOLDS}
             SELECT id, fields FROM records INDEXED BY registrations_by_household
             WHERE kind = 'registration' AND tombstone IS NULL
             AND json_extract(fields, '$.household_id') IN hhs"
        ),
        &[area_id.to_string()],
    )
}

/// The patrol visits made at the area's buildings.
pub(crate) fn patrol_visits(conn: &Connection, area_id: Id) -> Result<Vec<PatrolVisit>> {
    decode_rows(
        conn,
        &format!(
            "{SUBTREE}{BUILDINGS}
             SELECT id, fields FROM records WHERE kind = 'patrol_visit' AND tombstone IS NULL
             AND json_extract(fields, '$.building_id') IN blds
             ORDER BY json_extract(fields, '$.at_ms')"
        ),
        &[area_id.to_string()],
    )
}

/// Every micro fire station on the device.
pub(crate) fn stations(conn: &Connection) -> Result<Vec<Station>> {
    decode_rows(
        conn,
        "SELECT id, fields FROM records WHERE kind = 'station' AND tombstone IS NULL",
        &[],
    )
}

/// Which cases of an area to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseFilter {
    /// Open cases only.
    Open,
    /// Every case opened at or before this time (closed ones included).
    OpenedBy(u64),
    /// Every case reported on this patrol.
    Patrol(Id),
}

/// Cases with their stored (current) folds. `area_id: None` reads the whole device.
pub(crate) fn cases(
    conn: &Connection,
    area_id: Option<Id>,
    filter: CaseFilter,
) -> Result<Vec<(Case, CaseFold)>> {
    let (scope, mut args) = match area_id {
        Some(area) => ((SUBTREE, "AND r.parent IN subtree"), vec![area.to_string()]),
        None => (("", ""), vec![]),
    };
    let condition = match filter {
        CaseFilter::Open => "AND f.closed IS NOT 1".to_string(),
        CaseFilter::OpenedBy(ms) => {
            args.push(ms.to_string());
            format!(
                "AND json_extract(r.fields, '$.opened_at_ms') <= CAST(?{} AS INTEGER)",
                args.len()
            )
        }
        CaseFilter::Patrol(patrol) => {
            args.push(patrol.to_string());
            format!(
                "AND json_extract(r.fields, '$.patrol_id') = ?{}",
                args.len()
            )
        }
    };
    let sql = format!(
        "{}
         SELECT r.id, r.fields, f.fold FROM records r LEFT JOIN case_folds f ON f.case_id = r.id
         WHERE r.kind = 'case' AND r.tombstone IS NULL {} {condition}",
        scope.0, scope.1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(&args), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, fields, fold) = row?;
        if let Some(case) = decode_fields::<Case>(id, &fields)? {
            // No fold row: a case without events, in its kind's first state (open).
            let fold = crate::store::records::fold_or_initial(&case, fold.as_deref())?;
            out.push((case, fold));
        }
    }
    Ok(out)
}
