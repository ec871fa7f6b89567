-- name: store_stage_snapshots
-- purpose: Store the rows of `stage_snapshots` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `stage_snapshots` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `stage_snapshots` can fill it.
-- grain: one row per (snapshot_date, stage) that has customers
-- params: target_id, defs_key, dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: stage_snapshots
-- columns: none (inserts into result_stage_snapshots)
INSERT INTO result_stage_snapshots
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, stage, customers
FROM stage_snapshots
