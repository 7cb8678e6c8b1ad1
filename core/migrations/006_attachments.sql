-- Version 6: photo attachments (issue 24, ADR 0042).
-- The upload lane's queue: one row per blob this phone made (a photo's picture and its
-- thumbnail), in the order they go (`seq`: the thumbnail before its picture). It is not the
-- outbox: an operation is never behind a blob. `sent` is the offset the server last confirmed
-- (a resumed upload starts from the server's HEAD answer, never from 0); `wire_bytes` counts
-- every byte put in a PATCH body, delivered or lost, for the figures.
CREATE TABLE blob_uploads (
    seq         INTEGER PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    case_id     TEXT NOT NULL,
    picture     TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('picture', 'thumbnail')),
    size        INTEGER NOT NULL,
    sent        INTEGER NOT NULL DEFAULT 0,
    wire_bytes  INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'uploaded', 'too_large', 'hash_mismatch')),
    retry_at_ms INTEGER,
    created_ms  INTEGER NOT NULL
) STRICT;
