-- name: store_won_back_lost_monthly
-- purpose: Store the rows of `won_back_lost_monthly` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `won_back_lost_monthly` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `won_back_lost_monthly` can fill it.
-- grain: one row per calendar month from the first order month to D's month
-- params: target_id, defs_key, as_of, lost_after_days
-- uses: won_back_lost_monthly
-- columns: none (inserts into result_won_back_lost_monthly)
INSERT INTO result_won_back_lost_monthly
SELECT $target_id AS dataset_id, $defs_key AS defs_key, month, won_back, lost
FROM won_back_lost_monthly
