-- Issue 23: what each phone reports of its sync, for the console's list of phones. A row per
-- device that has synced since this migration: when the server last served it (the server's
-- clock, not the phone's) and how many changes it said were still waiting in its outbox (NULL
-- until a phone that reports it syncs: older apps send no count). Written behind the requests
-- that report it, coalesced in memory (`device_status.rs`), never in a push's transaction.
CREATE TABLE device_status (
    device_id  TEXT    PRIMARY KEY REFERENCES devices (id),
    synced_ms  INTEGER NOT NULL,
    unsynced   INTEGER
);
