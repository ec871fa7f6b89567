-- name: last_order_date
-- purpose: The default as-of date D: the last day with an order (amount > 0).
-- grain: one row
-- params: none
-- columns: last_order_date, first_order_date
SELECT MAX(order_date) AS last_order_date, MIN(order_date) AS first_order_date
FROM stg_order_days
