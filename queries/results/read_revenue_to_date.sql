-- name: read_revenue_to_date
-- purpose: The stored rows of `revenue_to_date` (store_revenue_to_date) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `revenue_to_date` returns them.
-- grain: one row per stored date
-- params: target_id, defs_key, dates
-- columns: snapshot_date, revenue
SELECT snapshot_date, revenue
FROM result_revenue_to_date
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date
