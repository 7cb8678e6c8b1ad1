-- Version 5: fewer encrypted pages per local edit (ADR 0036).
-- The index of case folds by `closed` was one more b-tree page on every case write. Lists of
-- open cases reach the folds from the case records (by area, by kind) and read `closed` from
-- the fold row itself, which is the primary key's leaf: the index is not needed.
DROP INDEX IF EXISTS case_folds_open;

-- The outbox as one b-tree: its two indexes (the unique `op_id`, `outbox_by_entity`) were two
-- more pages on every local edit. The outbox holds what this phone has not pushed yet (tens to
-- a few thousand rows); the lookups by operation id (the server's answer to a push, one scan
-- per batch) and by record (a record put back after a refusal) scan it. Operation ids stay
-- unique: every one is a fresh UUID v7, and the push is acknowledged by id.
CREATE TABLE outbox_v5 (
    seq        INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    hlc        INTEGER NOT NULL,
    op         TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'rejected')),
    reason     TEXT,
    created_ms INTEGER NOT NULL
);
INSERT INTO outbox_v5 (seq, op_id, entity_id, hlc, op, status, reason, created_ms)
    SELECT seq, op_id, entity_id, hlc, op, status, reason, created_ms FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
