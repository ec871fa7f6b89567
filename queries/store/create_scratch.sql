-- name: create_scratch
-- kind: script
-- purpose: A scratch database in memory, shared by every cursor of the
--   connection, holding the customer sets of the global filters (region,
--   owner, segment). Session variables cannot hold a million ids cheaply; a
--   set id can. Nothing in it is ever persisted. READ_WRITE: it is writable
--   also beside a store file opened read-only.
-- grain: n/a (DDL)
-- params: none
-- columns: none
ATTACH IF NOT EXISTS ':memory:' AS crm_scratch (READ_WRITE);
CREATE TABLE IF NOT EXISTS crm_scratch.filter_sets (
    set_id      VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL
);
