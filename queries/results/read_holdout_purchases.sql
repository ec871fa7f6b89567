-- name: read_holdout_purchases
-- purpose: The stored rows of `holdout_purchases` (store_holdout_purchases) for one dataset and
--   definitions key, in the order `holdout_purchases` returns them.
-- grain: one row per customer with a purchase on or before start_date
-- params: target_id, defs_key
-- columns: customer_id, actual_purchases
SELECT customer_id, actual_purchases
FROM result_holdout_purchases
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY customer_id
