-- name: store_won_back_lost_to_date
-- purpose: Store the rows of `won_back_lost_to_date` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `won_back_lost_to_date` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `won_back_lost_to_date` can fill it.
-- grain: one row per stored date
-- params: target_id, defs_key, dates, as_of, lost_after_days
-- uses: won_back_lost_to_date
-- columns: none (inserts into result_won_back_lost_to_date)
INSERT INTO result_won_back_lost_to_date
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, won_back, lost
FROM won_back_lost_to_date
