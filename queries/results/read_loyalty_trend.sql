-- name: read_loyalty_trend
-- purpose: The stored rows of `loyalty_trend` (store_loyalty_trend) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `loyalty_trend` returns them.
-- grain: one row per snapshot_date that has a customer with an order on or before it
-- params: target_id, defs_key, dates
-- columns: snapshot_date, customers, window_buyers, repeat_buyers, repeat_rate, breadth, measured_regularity, interval_cv, complainers, complainers_reordered, reorder_share, orders_after_complaint, priced_orders, discounted_orders, price_sensitivity
SELECT snapshot_date, customers, window_buyers, repeat_buyers, repeat_rate, breadth, measured_regularity, interval_cv, complainers, complainers_reordered, reorder_share, orders_after_complaint, priced_orders, discounted_orders, price_sensitivity
FROM result_loyalty_trend
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date
