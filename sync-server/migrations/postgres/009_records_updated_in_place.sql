-- A record's update rewrites its `state`. The building lookup by unified address code was an
-- index over an expression of `state` (migration 004), and an index over a column that changes
-- makes PostgreSQL write a new entry in every index of the table for every update (no heap-only
-- tuple). The code gets a column of its own, written with the state, and each page of the table
-- keeps room for an update's new version. ADR 0051.
ALTER TABLE records ADD COLUMN address_code text;

UPDATE records SET address_code = (state::jsonb -> 'fields') ->> 'address_code'
WHERE kind = 'building';

DROP INDEX records_building_by_address_code;
CREATE INDEX records_building_by_address_code ON records (address_code) WHERE kind = 'building';

ALTER TABLE records SET (fillfactor = 85);
