-- name: store_loyalty_customers
-- purpose: Store the rows of `loyalty_customers` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `loyalty_customers` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `loyalty_customers` can fill it.
-- grain: one row per (snapshot_date, customer_id) with an order on or before snapshot_date
-- params: target_id, defs_key, dates, loyal_window_days, complaint_pattern
-- uses: loyalty_customers
-- columns: none (inserts into result_loyalty_customers)
INSERT INTO result_loyalty_customers
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, customer_id, orders, orders_in_window, buying_days, interval_cv, categories_bought, categories_total, complaint_date, orders_after_complaint
FROM loyalty_customers
