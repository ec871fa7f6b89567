-- name: read_loyalty_prices
-- purpose: The stored rows of `loyalty_prices` (store_loyalty_prices) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `loyalty_prices` returns them.
-- grain: one row per (snapshot_date, customer_id) with a priced order on or before snapshot_date
-- params: target_id, defs_key, dates
-- columns: snapshot_date, customer_id, priced_orders, discounted_orders
SELECT snapshot_date, customer_id, priced_orders, discounted_orders
FROM result_loyalty_prices
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date, customer_id
