-- name: store_clv_summary
-- purpose: Store the rows of `clv_summary` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `clv_summary` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `clv_summary` can fill it.
-- grain: one row per customer with a purchase on or before calibration_end
-- params: target_id, defs_key, calibration_end
-- uses: clv_summary
-- columns: none (inserts into result_clv_summary)
INSERT INTO result_clv_summary
SELECT $target_id AS dataset_id, $defs_key AS defs_key, customer_id, frequency, recency_weeks, t_weeks, monetary, mean_purchase_value, first_purchase_date, last_purchase_date
FROM clv_summary
