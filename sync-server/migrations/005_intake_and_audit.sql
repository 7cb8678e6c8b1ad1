-- Issue 26: work orders taken in from other systems (service accounts, the orders they sent,
-- the callbacks owed to them) and the hash-chained audit log. ADR 0025.

-- A system that sends work orders (the 12345 platform, the 110 linkage): a user of its own
-- (role dispatcher, scoped to the area it may send into) and a token of its own. Its id is the
-- "device" of the token and of the stamps of the operations it makes.
CREATE TABLE service_accounts (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    name            TEXT    NOT NULL,
    -- Only the SHA-256 of the token is kept.
    token_hash      TEXT    NOT NULL,
    -- Where each step of its cases is sent, and the shared secret that signs it.
    callback_url    TEXT,
    callback_secret TEXT,
    created_ms      INTEGER NOT NULL,
    revoked_ms      INTEGER
);

-- Orders name their building by unified address code.
CREATE INDEX records_building_by_address_code
    ON records (json_extract(state, '$.fields.address_code')) WHERE kind = 'building';

-- One row per work order taken in: the source system's own id makes a retried delivery the
-- same case.
CREATE TABLE intake_orders (
    account_id  TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    case_id     TEXT    NOT NULL UNIQUE,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, source_id)
) WITHOUT ROWID;

-- How far the callback scanner has read the operation log: one row, made by the first scan.
CREATE TABLE callback_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);

-- The callbacks owed: one per account and case event, kept until delivered (durable across
-- restarts); `next_ms` is when the next attempt is due.
CREATE TABLE callbacks (
    id           INTEGER PRIMARY KEY,
    account_id   TEXT    NOT NULL,
    event_id     TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_ms      INTEGER NOT NULL,
    delivered_ms INTEGER,
    last_error   TEXT,
    UNIQUE (account_id, event_id)
);
CREATE INDEX callbacks_due ON callbacks (next_ms) WHERE delivered_ms IS NULL;

-- The audit log: append-only, each entry chained to the one before by its hash. Ids and
-- reasons only, never a personal value.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    reason      TEXT    NOT NULL,
    -- The id a phone gave the fact it reported: a fact reported twice is kept once.
    fact_id     TEXT    UNIQUE,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_by_target ON audit_log (target_id, seq) WHERE target_id IS NOT NULL;
CREATE INDEX audit_by_actor ON audit_log (actor, seq);
