-- The device store, version 1: records merged field by field, case events, the outbox of local
-- operations, conflicts kept for the user, and small device metadata.

-- Device metadata: device id, last HLC handed out, server clock offset, sync cursor.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every synced record of every kind. `fields` is the JSON object of current values, `stamps`
-- the JSON object of the (hlc, device) stamp that wrote each field, `tombstone` the stamp of a
-- delete. The typed model is decoded from `fields` (see gridwork_domain::merge::RecordState).
-- `rid` is a stable integer key for the search index's rowid.
CREATE TABLE records (
    rid         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    stamps      TEXT NOT NULL,
    tombstone   TEXT,
    updated_hlc INTEGER NOT NULL
);

CREATE INDEX records_by_kind ON records (kind);
CREATE INDEX areas_by_parent ON records (json_extract(fields, '$.parent_id')) WHERE kind = 'area';
CREATE INDEX buildings_by_grid ON records (json_extract(fields, '$.grid_id')) WHERE kind = 'building';
CREATE INDEX households_by_building
    ON records (json_extract(fields, '$.building_id')) WHERE kind = 'household';
CREATE INDEX residents_by_household
    ON records (json_extract(fields, '$.household_id')) WHERE kind = 'resident';
CREATE INDEX registrations_by_resident
    ON records (json_extract(fields, '$.resident_id')) WHERE kind = 'registration';
CREATE INDEX registrations_by_household
    ON records (json_extract(fields, '$.household_id')) WHERE kind = 'registration';
CREATE INDEX cases_by_area ON records (json_extract(fields, '$.area_id')) WHERE kind = 'case';
CREATE INDEX visits_by_patrol
    ON records (json_extract(fields, '$.patrol_id')) WHERE kind = 'patrol_visit';

-- Case histories: append-only, merged by union on the event id.
CREATE TABLE case_events (
    id      TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    hlc     INTEGER NOT NULL,
    device  TEXT NOT NULL,
    event   TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX case_events_by_case ON case_events (case_id, hlc);

-- The fold of each case's events (its state), kept beside the events so lists need no refold.
CREATE TABLE case_folds (
    case_id TEXT PRIMARY KEY,
    state   TEXT NOT NULL,
    closed  INTEGER NOT NULL,
    fold    TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX case_folds_open ON case_folds (closed);

-- Local operations not yet accepted by the server, in the order they were made. Accepted ones
-- are deleted; rejected ones stay, quarantined with the server's reason, and are shown.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id      TEXT NOT NULL UNIQUE,
    entity_id  TEXT NOT NULL,
    hlc        INTEGER NOT NULL,
    op         TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rejected')),
    reason     TEXT,
    created_ms INTEGER NOT NULL
);

CREATE INDEX outbox_by_entity ON outbox (entity_id);

-- A value this device wrote that lost to a concurrent write from another device: kept so the
-- user can see it and re-apply it.
CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    entity_kind TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    lost_value  TEXT NOT NULL,
    lost_stamp  TEXT NOT NULL,
    won_value   TEXT NOT NULL,
    won_stamp   TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'reapplied', 'dismissed')),
    UNIQUE (entity_id, field, lost_stamp)
) WITHOUT ROWID;
