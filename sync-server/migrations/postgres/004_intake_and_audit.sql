-- Issue 26: work orders taken in from other systems (service accounts, the orders they sent,
-- the callbacks owed to them) and the hash-chained audit log. ADR 0025. The same tables as
-- SQLite's 005, in PostgreSQL's types.

CREATE TABLE service_accounts (
    id              uuid    PRIMARY KEY,
    user_id         uuid    NOT NULL REFERENCES users (id),
    name            text    NOT NULL,
    token_hash      text    NOT NULL,
    callback_url    text,
    callback_secret text,
    created_ms      bigint  NOT NULL,
    revoked_ms      bigint
);

-- Orders name their building by unified address code.
CREATE INDEX records_building_by_address_code
    ON records (((state::jsonb -> 'fields') ->> 'address_code')) WHERE kind = 'building';

CREATE TABLE intake_orders (
    account_id  uuid    NOT NULL,
    source_id   text    NOT NULL,
    kind        text    NOT NULL,
    case_id     uuid    NOT NULL UNIQUE,
    received_ms bigint  NOT NULL,
    PRIMARY KEY (account_id, source_id)
);

-- How far the callback scanner has read the operation log: one row, made by the first scan.
CREATE TABLE callback_cursor (id bigint PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);

CREATE TABLE callbacks (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   uuid    NOT NULL,
    event_id     uuid    NOT NULL,
    case_id      uuid    NOT NULL,
    body         text    NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    next_ms      bigint  NOT NULL,
    delivered_ms bigint,
    last_error   text,
    UNIQUE (account_id, event_id)
);
CREATE INDEX callbacks_due ON callbacks (next_ms) WHERE delivered_ms IS NULL;

CREATE TABLE audit_log (
    seq         bigint  PRIMARY KEY,
    at_ms       bigint  NOT NULL,
    actor       text    NOT NULL,
    action      text    NOT NULL,
    target_kind text,
    target_id   text,
    reason      text    NOT NULL,
    fact_id     text    UNIQUE,
    prev_hash   text    NOT NULL,
    hash        text    NOT NULL
);
CREATE INDEX audit_by_target ON audit_log (target_id, seq) WHERE target_id IS NOT NULL;
CREATE INDEX audit_by_actor ON audit_log (actor, seq);
