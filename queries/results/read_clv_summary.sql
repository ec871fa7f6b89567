-- name: read_clv_summary
-- purpose: The stored rows of `clv_summary` (store_clv_summary) for one dataset and
--   definitions key, in the order `clv_summary` returns them.
-- grain: one row per customer with a purchase on or before calibration_end
-- params: target_id, defs_key
-- columns: customer_id, frequency, recency_weeks, t_weeks, monetary, mean_purchase_value, first_purchase_date, last_purchase_date
SELECT customer_id, frequency, recency_weeks, t_weeks, monetary, mean_purchase_value, first_purchase_date, last_purchase_date
FROM result_clv_summary
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY customer_id
