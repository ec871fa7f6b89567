-- name: read_won_back_lost_to_date
-- purpose: The stored rows of `won_back_lost_to_date` (store_won_back_lost_to_date) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `won_back_lost_to_date` returns them.
-- grain: one row per stored date
-- params: target_id, defs_key, dates
-- columns: snapshot_date, won_back, lost
SELECT snapshot_date, won_back, lost
FROM result_won_back_lost_to_date
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date
