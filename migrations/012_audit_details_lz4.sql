-- A read's audit event names every secret it read: the read of 10,000
-- references writes some 160 KB of details, which PostgreSQL compresses
-- before it stores them, inside the read's audit transaction, while that
-- transaction holds the chain head. lz4 compresses them several times
-- faster than the default pglz, and nearly as small; storing them
-- uncompressed (storage external) is faster than pglz too, but slower
-- than lz4 and four times the size. Only new rows are compressed with
-- lz4; older ones keep pglz, and both read back the same bytes, which is
-- what the chain's MACs cover. A server built without lz4 keeps pglz.
do $$
begin
    alter table {{.schema}}.audit_events alter column details set compression lz4;
exception when feature_not_supported then
    null;
end
$$;
