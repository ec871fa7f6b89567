-- name: leftover_objects
-- purpose: Working tables and views of an ingest that earlier versions left in
--   the database file (they belong on the ingesting cursor only). The store
--   drops them when it opens the file, so the next ingest cannot collide with
--   them. Only these fixed names are ever listed.
-- grain: one row per leftover object
-- params: none
-- columns: object_name, object_kind
SELECT table_name AS object_name, 'TABLE' AS object_kind
FROM duckdb_tables()
WHERE NOT temporary AND schema_name = 'main' AND database_name = current_database()
  AND table_name IN ('ingest_raw', 'ingest_cells', 'ingest_file', 'ingest_stage', 'profile_input', 'ingest_parsed')
UNION ALL
SELECT view_name AS object_name, 'VIEW' AS object_kind
FROM duckdb_views()
WHERE NOT temporary AND NOT internal AND schema_name = 'main' AND database_name = current_database()
  AND view_name IN ('ingest_raw', 'ingest_cells', 'ingest_file', 'ingest_stage', 'profile_input', 'ingest_parsed')
