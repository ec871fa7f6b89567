-- name: store_clv_intervals
-- purpose: Store the 90% bootstrap intervals of the CLV predictions at D (the
--   fit stored in result_params; crmflow.model.ClvFit.intervals) for one
--   dataset and definitions key: one row per customer of the fit's summary,
--   ``pos`` its place there. The rows come from the frame crmflow.results
--   registers on the cursor as ``clv_intervals_frame`` (built in Python, like the fits).
-- grain: n/a
-- params: target_id, defs_key
-- columns: none (inserts into result_clv_intervals)
INSERT INTO result_clv_intervals
SELECT $target_id AS dataset_id, $defs_key AS defs_key, pos, customer_id, expected_orders_low, expected_orders_high, expected_value_low, expected_value_high
FROM clv_intervals_frame
