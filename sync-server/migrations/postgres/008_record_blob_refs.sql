-- Photos held by records (issue 24, ADR 0043): a building's or household's photo is a field of
-- its own (`photo_<hash>`), and a push files the blobs it names here, from the record's merged
-- state, in the same transaction as the operation. A fetch of a blob looks its records up here
-- and admits the caller by the record's CURRENT place. A photo removed (its field null) or a
-- record deleted takes its rows away; the blob is then an orphan for the sweep.
-- No backfill: no record could hold a photo field before this version.
CREATE TABLE record_blob_refs (
    record_id uuid NOT NULL,
    -- The picture's hash: the photo field's name without `photo_`.
    photo     text NOT NULL,
    -- The picture's or its thumbnail's hash.
    hash      text NOT NULL,
    PRIMARY KEY (record_id, photo, hash)
);
CREATE INDEX record_blob_refs_by_hash ON record_blob_refs (hash);
