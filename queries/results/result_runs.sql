-- name: result_runs
-- purpose: What is stored for one dataset and query (crmflow.results): its
--   definitions keys and the dates each was stored at (NULL: the query takes
--   no dates).
-- grain: one row per (query, definitions key) stored for the dataset
-- params: target_id, query_name
-- columns: defs_key, dates
SELECT defs_key, dates
FROM result_runs
WHERE dataset_id = $target_id AND query = $query_name
