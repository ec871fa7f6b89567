-- name: read_loyalty_customers
-- purpose: The stored rows of `loyalty_customers` (store_loyalty_customers) for one dataset and
--   definitions key, at the requested dates (each among the stored ones), in the
--   order `loyalty_customers` returns them.
-- grain: one row per (snapshot_date, customer_id) with an order on or before snapshot_date
-- params: target_id, defs_key, dates
-- columns: snapshot_date, customer_id, orders, orders_in_window, buying_days, interval_cv, categories_bought, categories_total, complaint_date, orders_after_complaint
SELECT snapshot_date, customer_id, orders, orders_in_window, buying_days, interval_cv, categories_bought, categories_total, complaint_date, orders_after_complaint
FROM result_loyalty_customers
WHERE dataset_id = $target_id AND defs_key = $defs_key
  AND snapshot_date IN (SELECT UNNEST(CAST($dates AS DATE[])))
ORDER BY snapshot_date, customer_id
