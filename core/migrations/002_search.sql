-- Version 2: full-text search over names, addresses, units, phones and case titles.
-- The trigram tokenizer finds Chinese substrings (梅花碑 in 梅花碑社区3幢) that a word tokenizer
-- cannot split; queries shorter than three characters fall back to LIKE on the same table.

-- The one definition of what is searchable in each kind of record; used to build the index here
-- and to refresh a record's row after every write.
CREATE VIEW search_source AS
SELECT
    rid,
    id,
    kind,
    trim(
        coalesce(json_extract(fields, '$.name'), '') || ' ' ||
        coalesce(json_extract(fields, '$.address'), '') || ' ' ||
        coalesce(json_extract(fields, '$.address_code'), '') || ' ' ||
        coalesce(json_extract(fields, '$.unit'), '') || ' ' ||
        coalesce(json_extract(fields, '$.phone'), '') || ' ' ||
        coalesce(json_extract(fields, '$.title'), '') || ' ' ||
        coalesce(json_extract(fields, '$.category'), '') || ' ' ||
        coalesce(json_extract(fields, '$.code'), '')
    ) AS text
FROM records
WHERE tombstone IS NULL
  AND kind IN ('area', 'building', 'station', 'household', 'resident', 'case');

-- The rowid of a search row is the record's `rid`.
CREATE VIRTUAL TABLE search USING fts5 (
    record_id UNINDEXED,
    kind UNINDEXED,
    text,
    tokenize = 'trigram'
);

INSERT INTO search (rowid, record_id, kind, text) SELECT rid, id, kind, text FROM search_source;
