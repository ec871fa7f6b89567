-- name: read_result_params
-- purpose: The stored fit (JSON parameters, store_result_params) of one kind for
--   one dataset and definitions key; no row when it is not stored.
-- grain: one row per (dataset, kind, definitions key)
-- params: target_id, kind, defs_key
-- columns: payload
SELECT payload
FROM result_params
WHERE dataset_id = $target_id AND kind = $kind AND defs_key = $defs_key
