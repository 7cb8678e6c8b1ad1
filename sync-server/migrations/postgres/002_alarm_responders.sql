-- A building's place now names the stations its alarms were dispatched to (`responders`): those
-- crews see the building even when another station serves it. They are found from the cases
-- hanging from the building, on every change of a case's place: an index over cases alone
-- (a building's patrol visits pile up under the same parent).
CREATE INDEX records_cases_by_parent ON records (parent) WHERE kind = 'case';

-- Buildings stored before learn them from their cases' places (sorted ids, as
-- `gridwork_domain::scope::responders` gives); places already right are left as they are.
UPDATE records AS b
SET place = (b.place::jsonb || jsonb_build_object('responders', r.stations))::text
FROM (
    SELECT c.parent AS building,
           jsonb_agg(DISTINCT s.station ORDER BY s.station) AS stations
    FROM records AS c
    CROSS JOIN LATERAL
        jsonb_array_elements_text(c.place::jsonb -> 'case' -> 'dispatched_to') AS s (station)
    WHERE c.kind = 'case'
      AND c.parent IS NOT NULL
      AND c.place IS NOT NULL
      AND c.place::jsonb -> 'case' ->> 'kind' = 'alarm'
    GROUP BY c.parent
) AS r
WHERE b.id = r.building
  AND b.kind = 'building'
  AND b.place IS NOT NULL
  AND (b.place::jsonb -> 'responders') IS DISTINCT FROM r.stations;
