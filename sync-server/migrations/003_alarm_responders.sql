-- A building's place now names the stations its alarms were dispatched to (`responders`): those
-- crews see the building even when another station serves it. They are found from the cases
-- hanging from the building, on every change of a case's place: an index over cases alone
-- (a building's patrol visits pile up under the same parent).
CREATE INDEX records_cases_by_parent ON records (parent) WHERE kind = 'case';

-- The places of buildings with cases are cleared here and computed again by the upgrade
-- (`backfill_places`), after their cases' places.
UPDATE records SET place = NULL
WHERE kind = 'building' AND id IN (SELECT parent FROM records WHERE kind = 'case');
