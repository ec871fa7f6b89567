-- name: read_clv_intervals
-- purpose: The stored intervals of the CLV predictions (store_clv_intervals) for
--   one dataset and definitions key, in the order of the fit's summary.
-- grain: one row per customer of the fit's summary
-- params: target_id, defs_key
-- columns: pos, customer_id, expected_orders_low, expected_orders_high, expected_value_low, expected_value_high
SELECT pos, customer_id, expected_orders_low, expected_orders_high, expected_value_low, expected_value_high
FROM result_clv_intervals
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY pos
