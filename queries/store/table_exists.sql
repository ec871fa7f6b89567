-- name: table_exists
-- purpose: Whether the store file has a (non-temporary) table of this name in
--   its main schema -- e.g. the audit trail, missing from an older store file
--   that could not be upgraded (opened read-only, or held by another process).
-- grain: at most one row
-- params: table_name
-- columns: table_name
SELECT table_name
FROM duckdb_tables()
WHERE NOT temporary AND schema_name = 'main' AND database_name = current_database()
  AND table_name = $table_name
LIMIT 1
