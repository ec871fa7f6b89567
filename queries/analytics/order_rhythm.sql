-- name: order_rhythm
-- purpose: Each customer's buying rhythm as of D: the days between consecutive
--   order days (distinct days with an order line of amount > 0, on or before D;
--   several orders on one day are one buying day) and how long it has been since
--   the last one. median_gap_days is NULL with a single buying day;
--   overdue_ratio = days_since_last_order / median_gap_days (NULL without a
--   rhythm). Used by churn warnings and key-account health.
-- grain: one row per customer with an order on or before as_of
-- params: as_of
-- columns: customer_id, orders, order_days, first_order_date, last_order_date,
--   days_since_last_order, median_gap_days, max_gap_days, overdue_ratio
WITH orders_at AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
days AS (
    SELECT DISTINCT customer_id, order_date
    FROM orders_at
),
gaps AS (
    SELECT
        customer_id,
        date_diff('day', LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date), order_date) AS gap
    FROM days
),
gap_stats AS (
    SELECT
        customer_id,
        CAST(MEDIAN(gap) AS DOUBLE) AS median_gap_days,
        MAX(gap) AS max_gap_days
    FROM gaps
    WHERE gap IS NOT NULL
    GROUP BY customer_id
),
order_stats AS (
    SELECT
        customer_id,
        COUNT(*) AS orders,
        COUNT(DISTINCT order_date) AS order_days,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date
    FROM orders_at
    GROUP BY customer_id
)
SELECT
    o.customer_id,
    o.orders,
    o.order_days,
    o.first_order_date,
    o.last_order_date,
    date_diff('day', o.last_order_date, CAST($as_of AS DATE)) AS days_since_last_order,
    g.median_gap_days,
    g.max_gap_days,
    date_diff('day', o.last_order_date, CAST($as_of AS DATE)) / NULLIF(g.median_gap_days, 0) AS overdue_ratio
FROM order_stats AS o
LEFT JOIN gap_stats AS g ON g.customer_id = o.customer_id
ORDER BY o.customer_id
