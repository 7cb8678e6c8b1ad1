-- Version 7: fewer encrypted pages per local edit (ADR 0047).
--
-- Each kind's list index was an index on a JSON path of `fields` (households by
-- `$.building_id`, cases by `$.area_id`, …), partial on the kind, beside `records_by_kind`. Every
-- record created wrote two index b-trees, and every update of `fields` rewrote the record's
-- entry in its kind's index even when the parent did not change: SQLite re-indexes every
-- expression over a column an UPDATE sets. The parent is now a column of its own, written only
-- when it changes, and one index on (kind, parent) serves both the lists by parent and the
-- lists by kind.
ALTER TABLE records ADD COLUMN parent TEXT;
UPDATE records SET parent = json_extract(fields, CASE kind
    WHEN 'area' THEN '$.parent_id'
    WHEN 'building' THEN '$.grid_id'
    WHEN 'household' THEN '$.building_id'
    WHEN 'resident' THEN '$.household_id'
    WHEN 'registration' THEN '$.resident_id'
    WHEN 'case' THEN '$.area_id'
    WHEN 'patrol_visit' THEN '$.patrol_id'
END);
DROP INDEX IF EXISTS records_by_kind;
DROP INDEX IF EXISTS areas_by_parent;
DROP INDEX IF EXISTS buildings_by_grid;
DROP INDEX IF EXISTS households_by_building;
DROP INDEX IF EXISTS residents_by_household;
DROP INDEX IF EXISTS registrations_by_resident;
DROP INDEX IF EXISTS cases_by_area;
DROP INDEX IF EXISTS visits_by_patrol;
CREATE INDEX records_by_parent ON records (kind, parent);
-- A registration names two parents; the household one keeps its JSON-path index (only a
-- registration's own writes pay for it).
