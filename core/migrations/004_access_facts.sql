-- Issue 26: what this device showed or exported that the server's audit log must know (a
-- resident's full ID number shown, an export written), kept until the server has them. Ids and
-- reasons only, never a value. ADR 0025.
CREATE TABLE access_facts (
    id          TEXT    PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    reason      TEXT    NOT NULL
);
