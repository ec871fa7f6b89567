-- name: read_result_frame
-- purpose: A stored per-customer table of a page at D (store_result_frame) of one
--   kind for one dataset and definitions key, as Parquet bytes; no row when it
--   is not stored.
-- grain: one row per (dataset, kind, definitions key)
-- params: target_id, kind, defs_key
-- columns: data
SELECT data
FROM result_frames
WHERE dataset_id = $target_id AND kind = $kind AND defs_key = $defs_key
