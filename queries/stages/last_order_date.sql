-- name: last_order_date
-- purpose: The first and last day with an order line of amount > 0 (the data
--   range of the dashboard). Read straight from the lines: stg_order_days groups those same lines
--   by (customer, order, day), which does not change their smallest or
--   largest day but costs a group-by over every line.
-- grain: one row
-- params: none
-- columns: last_order_date, first_order_date
SELECT MAX(order_date) AS last_order_date, MIN(order_date) AS first_order_date
FROM stg_transactions
WHERE amount > 0
