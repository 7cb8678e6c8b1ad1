-- The log's index by scope key (001) has been read by nothing since pulls read the scope
-- buckets (004): each stored operation still paid an insert into it at a place set by its grid,
-- a page of its own in every group commit. PostgreSQL dropped it with the buckets (its 003).
DROP INDEX IF EXISTS ops_by_scope;
