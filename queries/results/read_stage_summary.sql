-- name: read_stage_summary
-- purpose: The stored rows of `stage_summary` (store_stage_summary) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `stage_summary` returns them.
-- grain: one row per (snapshot_date, stage) with customers
-- params: target_id, defs_key, dates
-- columns: snapshot_date, stage, customers, buyers, repeat_buyers
SELECT snapshot_date, stage, customers, buyers, repeat_buyers
FROM result_stage_summary
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date, stage
