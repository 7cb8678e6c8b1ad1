-- The server's first schema on PostgreSQL: the same tables as the SQLite schema after its
-- migrations 001 and 002 (`../001_oplog_and_accounts.sql`, `../002_places.sql`; no PostgreSQL
-- database predates places), in PostgreSQL's types: ids are `uuid` (they sort as the
-- server's ids sort, so snapshot pages by id work the same), times and HLCs `bigint`, JSON kept as
-- the exact `text` the server wrote (the server never queries inside it; cast to `jsonb` to look).

-- Every accepted operation, once. `seq` is the server's order: an identity never hands a
-- number out twice, even after a rolled-back push (which leaves a gap that pulls step over).
-- Pushes append under a transaction-level advisory lock, so numbers also commit in order
-- (docs/adr/0015-postgresql-backend.md).
CREATE TABLE ops (
    seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    op_id       uuid    NOT NULL UNIQUE,
    entity_id   uuid    NOT NULL,
    kind        text    NOT NULL,
    device_id   uuid    NOT NULL,
    hlc         bigint  NOT NULL,
    -- The area path of the record when the operation was stored; NULL while unresolved.
    scope_key   text,
    -- The whole operation as JSON, exactly as pulled.
    op          text    NOT NULL,
    received_ms bigint  NOT NULL,
    -- The record's place (JSON `Place`) after the operation (for a case event: the case's), and
    -- before it (NULL when the operation created the record): who sees it, gains or evicts it.
    place       text,
    prior       text
);
CREATE INDEX ops_by_scope ON ops (scope_key, seq);

-- The merged state of every record (RecordState as JSON), tombstoned ones included.
CREATE TABLE records (
    id          uuid    PRIMARY KEY,
    kind        text    NOT NULL,
    state       text    NOT NULL,
    scope_key   text,
    updated_seq bigint  NOT NULL,
    -- Where the record sits for the scope rules (JSON `Place`).
    place       text,
    -- The record it hangs from (a household's building, a building's grid...): when a record
    -- moves, everything hanging from it moves with it.
    parent      uuid
);
CREATE INDEX records_by_parent ON records (parent) WHERE parent IS NOT NULL;

-- Case histories: union of events by event id.
CREATE TABLE case_events (
    id       uuid    PRIMARY KEY,
    case_id  uuid    NOT NULL,
    hlc      bigint  NOT NULL,
    event    text    NOT NULL,
    seq      bigint  NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, hlc, id);

CREATE TABLE users (
    id         uuid    PRIMARY KEY,
    name       text    NOT NULL,
    role       text    NOT NULL,
    -- The area/building/station ids of the user's scope.
    scope      uuid[]  NOT NULL,
    created_ms bigint  NOT NULL
);

-- Only the SHA-256 of a code is kept.
CREATE TABLE enrollment_codes (
    code_hash  text    PRIMARY KEY,
    user_id    uuid    NOT NULL REFERENCES users (id),
    expires_ms bigint  NOT NULL,
    used_ms    bigint,
    device_id  uuid
);

-- Only the SHA-256 of a token is kept.
CREATE TABLE devices (
    id          uuid    PRIMARY KEY,
    user_id     uuid    NOT NULL REFERENCES users (id),
    name        text    NOT NULL,
    token_hash  text    NOT NULL,
    enrolled_ms bigint  NOT NULL,
    revoked_ms  bigint
);
