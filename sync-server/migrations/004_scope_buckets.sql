-- Scope buckets (docs/adr/0019-scope-buckets-and-log-positions.md): every operation and every
-- record is filed under the buckets of its place (`gridwork_domain::scope::filed_under`; an
-- operation under its record's place before and after it), so that a pull, a snapshot and a long
-- poll read only the buckets of the asking phone's scope, through these indexes, instead of the
-- city's whole log. A bucket is 17 bytes: a tag byte and an id.
--
-- The upgrade (`backfill_buckets` in `records.rs`) files what an older server stored, from the
-- places it kept; existing cursors stay valid (sequence numbers do not change).

CREATE TABLE op_buckets (
    bucket BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (bucket, seq)
) WITHOUT ROWID;

CREATE TABLE record_buckets (
    bucket BLOB NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (bucket, id)
) WITHOUT ROWID;

-- Maintained on every insert since the first schema and never read: the buckets replace it.
DROP INDEX ops_by_scope;
