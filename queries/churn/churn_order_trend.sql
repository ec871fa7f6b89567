-- name: churn_order_trend
-- purpose: Is a customer's business shrinking? Orders and revenue in the recent
--   window (D - window_days, D] against the window before it
--   (D - 2 * window_days, D - window_days]. Churn warnings use window_days =
--   180: half a year is long enough to hold several orders of a typical
--   customer and to smooth out seasons of a quarter, it equals the default
--   lost_after_days, and two windows fit in a year of history.
--   Orders count as in the stage rules (an order with a line of amount > 0,
--   dated by its first such day); revenue is the sum of every line's amount in
--   the window, returns included (net revenue).
-- grain: one row per customer with an order on or before as_of
-- params: as_of, window_days
-- columns: customer_id, orders_recent, orders_previous, revenue_recent, revenue_previous
WITH orders_at AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
order_counts AS (
    SELECT
        customer_id,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) < $window_days
                 THEN 1 ELSE 0 END) AS orders_recent,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) >= $window_days
                  AND date_diff('day', order_date, CAST($as_of AS DATE)) < 2 * $window_days
                 THEN 1 ELSE 0 END) AS orders_previous
    FROM orders_at
    GROUP BY customer_id
),
revenue AS (
    SELECT
        customer_id,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) < $window_days
                 THEN CAST(amount AS DOUBLE) ELSE 0 END) AS revenue_recent,
        SUM(CASE WHEN date_diff('day', order_date, CAST($as_of AS DATE)) >= $window_days
                 THEN CAST(amount AS DOUBLE) ELSE 0 END) AS revenue_previous
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
        AND date_diff('day', order_date, CAST($as_of AS DATE)) < 2 * $window_days
    GROUP BY customer_id
)
SELECT
    o.customer_id,
    CAST(o.orders_recent AS BIGINT) AS orders_recent,
    CAST(o.orders_previous AS BIGINT) AS orders_previous,
    COALESCE(r.revenue_recent, 0.0) AS revenue_recent,
    COALESCE(r.revenue_previous, 0.0) AS revenue_previous
FROM order_counts AS o
LEFT JOIN revenue AS r ON r.customer_id = o.customer_id
ORDER BY o.customer_id
