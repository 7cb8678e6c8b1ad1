-- Version 7: fewer encrypted pages per new record (ADR 0047).
-- `records_by_kind` held every record, so every record created wrote one more b-tree page. The
-- kinds that have a partial index of their own (area, building, household, resident,
-- registration, case, patrol visit) are found through it: a partial index holds every record of
-- its kind (a missing field is a NULL key), and SQLite scans a partial index whose condition the
-- query implies. `records_by_kind` keeps only the kinds with no index of their own. Its condition
-- is a chain of `OR` so that a query's `kind = 'station'` implies it (SQLite proves implication
-- through `OR`, not through `IN`).
DROP INDEX IF EXISTS records_by_kind;
CREATE INDEX records_by_kind ON records (kind) WHERE kind = 'station' OR kind = 'patrol';
