-- The server's first schema: the operation log, the materialized records and case histories,
-- and the accounts (users, one-time enrollment codes, devices).

-- Every accepted operation, once. `seq` is the server's order (AUTOINCREMENT: a sequence
-- number is never reused, even after the last row is deleted, so a device cursor stays valid).
CREATE TABLE ops (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT    NOT NULL UNIQUE,
    entity_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    device_id   TEXT    NOT NULL,
    hlc         INTEGER NOT NULL,
    -- The area path of the record when the operation was stored; NULL while unresolved.
    scope_key   TEXT,
    -- The whole operation as JSON, exactly as pulled.
    op          TEXT    NOT NULL,
    received_ms INTEGER NOT NULL
);
-- Pulls filtered by scope (a later issue) walk this index.
CREATE INDEX ops_by_scope ON ops (scope_key, seq);

-- The merged state of every record (RecordState as JSON), tombstoned ones included.
-- Ordered by id for snapshot pages.
CREATE TABLE records (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    scope_key   TEXT,
    updated_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- Case histories: union of events by event id.
CREATE TABLE case_events (
    id       TEXT    PRIMARY KEY,
    case_id  TEXT    NOT NULL,
    hlc      INTEGER NOT NULL,
    event    TEXT    NOT NULL,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX case_events_by_case ON case_events (case_id, hlc, id);

CREATE TABLE users (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    -- JSON array of area/building/station ids.
    scope      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);

-- Only the SHA-256 of a code is kept.
CREATE TABLE enrollment_codes (
    code_hash  TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    device_id  TEXT
);

-- Only the SHA-256 of a token is kept.
CREATE TABLE devices (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id),
    name        TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL,
    enrolled_ms INTEGER NOT NULL,
    revoked_ms  INTEGER
);
