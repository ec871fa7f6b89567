-- name: account_orders
-- purpose: One customer's buying on or before D, per day, for the account
--   timeline: the net amount of the day's lines with amount > 0 (kind
--   'order') and, separately, of its returns and adjustments (amount <= 0,
--   kind 'return'); orders = the customer's orders (stg_orders, SPEC §2: an
--   order_id, else the customer's day) whose first day is that day, so the sum
--   of orders is the customer's order count at D.
-- grain: one row per (order_date, kind) of the customer
-- params: customer_id, as_of
-- columns: order_date, kind, amount, lines, orders
WITH lines AS (
    SELECT
        order_date,
        CASE WHEN amount > 0 THEN 'order' ELSE 'return' END AS kind,
        amount
    FROM stg_transactions
    WHERE customer_id = $customer_id AND order_date <= CAST($as_of AS DATE)
),
starts_per_day AS (
    SELECT order_date, COUNT(*) AS orders
    FROM stg_orders
    WHERE customer_id = $customer_id AND order_date <= CAST($as_of AS DATE)
    GROUP BY order_date
),
daily AS (
    SELECT order_date, kind, SUM(amount) AS amount, COUNT(*) AS lines
    FROM lines
    GROUP BY order_date, kind
),
final AS (
    SELECT
        d.order_date,
        d.kind,
        d.amount,
        d.lines,
        CASE WHEN d.kind = 'order' THEN COALESCE(s.orders, 0) ELSE 0 END AS orders
    FROM daily AS d
    LEFT JOIN starts_per_day AS s ON s.order_date = d.order_date
)
SELECT * FROM final
ORDER BY order_date, kind
