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

-- Token checks and users' views are cached by each server process (`auth/device_cache.rs`).
-- `accounts_version` moves whenever what they depend on changes: a device revoked, a user's
-- scope replaced, or a record that is some user's scope entry placed anew (its place is that
-- user's anchor); each request reads it (one row) and a cached entry of an older version is
-- read again. `scope_entries` says which records are scope entries.
CREATE TABLE accounts_version (
    version INTEGER NOT NULL
);
INSERT INTO accounts_version (version) VALUES (0);

CREATE TABLE scope_entries (
    id      TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (id, user_id)
) WITHOUT ROWID;
INSERT INTO scope_entries (id, user_id)
SELECT DISTINCT json_each.value, users.id FROM users, json_each(users.scope);
