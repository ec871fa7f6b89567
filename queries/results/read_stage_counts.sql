-- name: read_stage_counts
-- purpose: The stored rows of `stage_counts` (store_stage_counts) for one dataset and
--   definitions key (its one date, D), in the order `stage_counts` returns them
--   (flow order).
-- grain: one row per stage (5 rows)
-- params: target_id, defs_key
-- columns: stage, customers
SELECT stage, customers
FROM result_stage_counts
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY CASE stage WHEN 'potential' THEN 1 WHEN 'first' THEN 2 WHEN 'repeat' THEN 3 WHEN 'loyal' THEN 4 ELSE 5 END
