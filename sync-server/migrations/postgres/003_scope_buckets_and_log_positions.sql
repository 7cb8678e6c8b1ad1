-- Scope buckets and log positions (docs/adr/0019-scope-buckets-and-log-positions.md).
--
-- Buckets: every operation and every record is filed under the buckets of its place
-- (`gridwork_domain::scope::filed_under`; an operation under its record's place before and after
-- it), so that a pull, a snapshot and a long poll read only the buckets of the asking phone's
-- scope, through these indexes. A bucket is 17 bytes: a tag byte and an id. The upgrade files
-- what an older server stored, from the places it kept (`backfill_buckets` in `open.rs`).
CREATE TABLE op_buckets (
    bucket bytea  NOT NULL,
    seq    bigint NOT NULL,
    PRIMARY KEY (bucket, seq)
);

CREATE TABLE record_buckets (
    bucket bytea NOT NULL,
    id     uuid  NOT NULL,
    PRIMARY KEY (bucket, id)
);

-- Maintained on every insert since the first schema and never read: the buckets replace it.
DROP INDEX ops_by_scope;

-- Log positions: pushes no longer take one lock for the whole log. An operation's sequence
-- number is its log position, `base + (transaction id << 16) + its index in the push`, and a
-- reader reads only positions below `base + (oldest transaction still running << 16)`: every
-- transaction with a smaller id has committed or rolled back, so nothing can appear below a
-- cursor once read, whatever order pushes commit in. The identity column stops numbering.
ALTER TABLE ops ALTER COLUMN seq DROP IDENTITY;

-- `base` makes every new position larger than every number the identity handed out, so the
-- cursors phones hold stay valid.
CREATE TABLE log_position (
    base bigint NOT NULL
);
INSERT INTO log_position (base)
SELECT greatest(0, coalesce(max(seq), 0) + 1 - (pg_current_xact_id()::text::bigint << 16))
FROM ops;

-- Token checks and users' views are cached by each server process (`auth/device_cache.rs`).
-- `accounts_version` moves whenever what they depend on changes: a device revoked, a user's
-- scope replaced, or a record that is some user's scope entry placed anew (its place is that
-- user's anchor); each request reads it (one row) and a cached entry of an older version is
-- read again. `scope_entries` says which records are scope entries.
CREATE TABLE accounts_version (
    version bigint NOT NULL
);
INSERT INTO accounts_version (version) VALUES (0);

CREATE TABLE scope_entries (
    id      uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (id, user_id)
);
INSERT INTO scope_entries (id, user_id)
SELECT DISTINCT unnest(scope), id FROM users;
