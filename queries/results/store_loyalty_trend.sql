-- name: store_loyalty_trend
-- purpose: Store the rows of `loyalty_trend` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `loyalty_trend` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `loyalty_trend` can fill it.
-- grain: one row per snapshot_date that has a customer with an order on or before it
-- params: target_id, defs_key, dates, loyal_window_days, complaint_pattern
-- uses: loyalty_trend
-- columns: none (inserts into result_loyalty_trend)
INSERT INTO result_loyalty_trend
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, customers, window_buyers, repeat_buyers, repeat_rate, breadth, measured_regularity, interval_cv, complainers, complainers_reordered, reorder_share, orders_after_complaint, priced_orders, discounted_orders, price_sensitivity
FROM loyalty_trend
