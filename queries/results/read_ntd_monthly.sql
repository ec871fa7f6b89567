-- name: read_ntd_monthly
-- purpose: The stored rows of `ntd_monthly` (store_ntd_monthly) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `ntd_monthly` returns them.
-- grain: one row per snapshot date
-- params: target_id, defs_key, dates
-- columns: snapshot_date, active_customers, mean_relationship_days, revenue, revenue_per_active, categories_per_active
SELECT snapshot_date, active_customers, mean_relationship_days, revenue, revenue_per_active, categories_per_active
FROM result_ntd_monthly
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date
