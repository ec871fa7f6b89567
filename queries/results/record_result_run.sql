-- name: record_result_run
-- purpose: Note that the rows of one query for one dataset and definitions key
--   are stored (run in the same transaction as the rows themselves).
-- grain: n/a
-- params: target_id, query_name, defs_key, dates
-- columns: none
INSERT INTO result_runs
VALUES ($target_id, $query_name, $defs_key, CAST($dates AS DATE[]), CAST(now() AS TIMESTAMP))
