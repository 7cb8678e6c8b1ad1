-- Version 8: the subdistricts found by an index, not by reading every area (ADR 0054).
-- A case's view is timed by its subdistrict's response policy; finding the subdistricts read
-- and parsed every area record of the store (a subdistrict-wide phone holds hundreds), on every
-- view and every step a phone recorded. A partial index over areas only: an area's write
-- (rare: a bootstrap, an admin's edit) updates it; no other kind's row is in it, so a household's
-- or a case's write does not touch it.
CREATE INDEX areas_by_level ON records (json_extract(fields, '$.level')) WHERE kind = 'area';
