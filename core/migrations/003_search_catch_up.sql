-- Version 3: search rows are refreshed in batches, not inside every write (ADR 0018), and the
-- outbox numbers its rows without AUTOINCREMENT.
-- A write that changes a record's searchable text marks the record here, in its own
-- transaction; the marked rows are re-indexed together before the next search, at the end of a
-- sync run, or when enough are marked. The index is complete and current for every store
-- upgraded to this version, so the table starts empty.
CREATE TABLE search_stale (
    rid INTEGER PRIMARY KEY
);

-- The outbox's sequence without AUTOINCREMENT: every local edit also rewrote the page of
-- `sqlite_sequence` (one encrypted page in thirteen). Operations are acknowledged by `op_id`,
-- never by `seq`, and `seq` is only read and removed inside one transaction, so a number used
-- again after the outbox emptied names nothing stale; new rows still come after every row held.
CREATE TABLE outbox_v3 (
    seq        INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL UNIQUE,
    entity_id  TEXT NOT NULL,
    hlc        INTEGER NOT NULL,
    op         TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rejected')),
    reason     TEXT,
    created_ms INTEGER NOT NULL
);
INSERT INTO outbox_v3 (seq, op_id, entity_id, hlc, op, status, reason, created_ms)
    SELECT seq, op_id, entity_id, hlc, op, status, reason, created_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
CREATE INDEX outbox_by_entity ON outbox (entity_id);
