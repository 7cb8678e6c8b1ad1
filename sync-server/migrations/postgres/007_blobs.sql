-- Photo blobs (issue 24, ADR 0040): which cases reference which blob, and the bytes each device
-- uploaded per UTC day. The bytes themselves live in the blob store, not here.

-- One row per (blob, case) some step of the case references (a photo's picture or thumbnail);
-- a push files them with the step. A fetch of a blob looks its cases up here.
CREATE TABLE blob_refs (
    hash    text NOT NULL,
    case_id uuid NOT NULL,
    PRIMARY KEY (hash, case_id)
);

-- The photo steps stored before this table: their pictures and thumbnails.
INSERT INTO blob_refs (hash, case_id)
SELECT h.hash, e.case_id
FROM case_events AS e,
     LATERAL (VALUES (e.event::jsonb #>> '{action,attachment,blob,hash}'),
                     (e.event::jsonb #>> '{action,attachment,thumbnail,hash}')) AS h (hash)
WHERE e.event::jsonb #>> '{action,type}' = 'photo' AND h.hash IS NOT NULL
ON CONFLICT DO NOTHING;

-- Bytes accepted per device per UTC day (days since the epoch), for the daily quota.
CREATE TABLE upload_quota (
    device_id text   NOT NULL,
    day       bigint NOT NULL,
    bytes     bigint NOT NULL,
    PRIMARY KEY (device_id, day)
);
