-- name: store_ntd_monthly
-- purpose: Store the rows of `ntd_monthly` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `ntd_monthly` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `ntd_monthly` can fill it.
-- grain: one row per snapshot date
-- params: target_id, defs_key, dates, lost_after_days, loyal_window_days
-- uses: ntd_monthly
-- columns: none (inserts into result_ntd_monthly)
INSERT INTO result_ntd_monthly
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, active_customers, mean_relationship_days, revenue, revenue_per_active, categories_per_active
FROM ntd_monthly
