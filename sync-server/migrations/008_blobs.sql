-- Photo blobs (issue 24, ADR 0040): which cases reference which blob, and the bytes each device
-- uploaded per UTC day. The bytes themselves live in the blob store, not here.

-- One row per (blob, case) some step of the case references (a photo's picture or thumbnail);
-- a push files them with the step. A fetch of a blob looks its cases up here.
CREATE TABLE blob_refs (
    hash    TEXT NOT NULL,
    case_id TEXT NOT NULL,
    PRIMARY KEY (hash, case_id)
) WITHOUT ROWID;

-- The photo steps stored before this table: their pictures and thumbnails.
INSERT OR IGNORE INTO blob_refs (hash, case_id)
SELECT json_extract(event, '$.action.attachment.blob.hash'), case_id
FROM case_events
WHERE json_extract(event, '$.action.type') = 'photo'
  AND json_extract(event, '$.action.attachment.blob.hash') IS NOT NULL;
INSERT OR IGNORE INTO blob_refs (hash, case_id)
SELECT json_extract(event, '$.action.attachment.thumbnail.hash'), case_id
FROM case_events
WHERE json_extract(event, '$.action.type') = 'photo'
  AND json_extract(event, '$.action.attachment.thumbnail.hash') IS NOT NULL;

-- Bytes accepted per device per UTC day (days since the epoch), for the daily quota.
CREATE TABLE upload_quota (
    device_id TEXT    NOT NULL,
    day       INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
) WITHOUT ROWID;
