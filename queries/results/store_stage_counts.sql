-- name: store_stage_counts
-- purpose: Store the rows of `stage_counts` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `stage_counts` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `stage_counts` can fill it.
-- grain: one row per stage (5 rows)
-- params: target_id, defs_key, dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: stage_counts
-- columns: none (inserts into result_stage_counts)
INSERT INTO result_stage_counts
SELECT $target_id AS dataset_id, $defs_key AS defs_key, stage, customers
FROM stage_counts
