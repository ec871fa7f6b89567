-- name: store_stage_summary
-- purpose: Store the rows of `stage_summary` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `stage_summary` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `stage_summary` can fill it.
-- grain: one row per (snapshot_date, stage) with customers
-- params: target_id, defs_key, dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: stage_summary
-- columns: none (inserts into result_stage_summary)
INSERT INTO result_stage_summary
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, stage, customers, buyers, repeat_buyers
FROM stage_summary
