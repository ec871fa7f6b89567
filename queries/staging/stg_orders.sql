-- name: stg_orders
-- kind: view
-- uses: stg_transactions
-- purpose: One row per order as SPEC §2 defines it -- a distinct order_id,
--   else a distinct customer day, of the lines with amount > 0 -- dated by its
--   first day, with its amount (all its lines with amount > 0). Read from the
--   orders table stored at ingest (queries/store/insert_orders.sql), narrowed
--   by the customer filters (filter_set, filter_customers) like stg_transactions; with a channel filter
--   the orders are regrouped from the kept lines instead (an order's channel
--   is a property of its lines). Exactly one of the two branches returns
--   rows; DuckDB folds the session variables into constants when planning, so
--   the other one is not read. Every order-based query reads this view.
-- grain: one row per order
-- params: none
-- columns: customer_id, order_id, order_date, amount
SELECT customer_id, order_id, order_date, amount
FROM orders
WHERE dataset_id = getvariable('dataset_id')
    AND getvariable('filter_channels') IS NULL
    AND in_customer_scope(customer_id)
UNION ALL
SELECT
    customer_id,
    order_id,
    MIN(order_date) AS order_date,
    SUM(amount) AS amount
FROM stg_transactions
WHERE getvariable('filter_channels') IS NOT NULL AND amount > 0
GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN order_date END
