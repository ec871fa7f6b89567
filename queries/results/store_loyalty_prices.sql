-- name: store_loyalty_prices
-- purpose: Store the rows of `loyalty_prices` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `loyalty_prices` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `loyalty_prices` can fill it.
-- grain: one row per (snapshot_date, customer_id) with a priced order on or before snapshot_date
-- params: target_id, defs_key, dates
-- uses: loyalty_prices
-- columns: none (inserts into result_loyalty_prices)
INSERT INTO result_loyalty_prices
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, customer_id, priced_orders, discounted_orders
FROM loyalty_prices
