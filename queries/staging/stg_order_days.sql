-- name: stg_order_days
-- kind: view
-- uses: stg_transactions
-- purpose: The lines that make orders (SPEC §2): rows with amount > 0, keyed by
--   order_id when present, else by the (customer, day). Returns and zero
--   amounts (amount <= 0) never make an order. An order that spans several days
--   has one row per day here; queries take its first day on or before D.
-- grain: one row per (customer_id, order_key, order_date)
-- params: none
-- columns: customer_id, order_key, order_date, amount
SELECT
    customer_id,
    CASE WHEN order_id IS NULL THEN 'day:' || CAST(order_date AS VARCHAR)
         ELSE 'id:' || order_id END AS order_key,
    order_date,
    SUM(amount) AS amount
FROM stg_transactions
WHERE amount > 0
GROUP BY 1, 2, 3
