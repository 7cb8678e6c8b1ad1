-- Version 3: search rows are refreshed in batches, not inside every write (ADR 0018).
-- A write that changes a record's searchable text marks the record here, in its own
-- transaction; the marked rows are re-indexed together before the next search, at the end of a
-- sync run, or when enough are marked. The index is complete and current for every store
-- upgraded to this version, so the table starts empty.
CREATE TABLE search_stale (
    rid INTEGER PRIMARY KEY
);
