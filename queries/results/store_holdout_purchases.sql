-- name: store_holdout_purchases
-- purpose: Store the rows of `holdout_purchases` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `holdout_purchases` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `holdout_purchases` can fill it.
-- grain: one row per customer with a purchase on or before start_date
-- params: target_id, defs_key, start_date, end_date
-- uses: holdout_purchases
-- columns: none (inserts into result_holdout_purchases)
INSERT INTO result_holdout_purchases
SELECT $target_id AS dataset_id, $defs_key AS defs_key, customer_id, actual_purchases
FROM holdout_purchases
