-- name: read_stage_snapshots
-- purpose: The stored rows of `stage_snapshots` (store_stage_snapshots) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `stage_snapshots` returns them.
-- grain: one row per (snapshot_date, stage) that has customers
-- params: target_id, defs_key, dates
-- columns: snapshot_date, stage, customers
SELECT snapshot_date, stage, customers
FROM result_stage_snapshots
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date, stage
