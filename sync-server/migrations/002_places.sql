-- Where each record sits for the scope rules (issue 4): the JSON `Place` of a record now, and of
-- the record an operation touched before and after it, so pulls can tell which devices see an
-- operation, which gain a record (it moved into their scope) and which must evict it.

-- The record's place after the operation (for a case event: the case's).
ALTER TABLE ops ADD COLUMN place TEXT;
-- The record's place before the operation; NULL when the operation created the record.
ALTER TABLE ops ADD COLUMN prior TEXT;

ALTER TABLE records ADD COLUMN place TEXT;
-- The record it hangs from (a household's building, a building's grid...): when a record moves,
-- everything hanging from it moves with it.
ALTER TABLE records ADD COLUMN parent TEXT;
CREATE INDEX records_by_parent ON records (parent) WHERE parent IS NOT NULL;
