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
WITH days AS (
    -- buying days, with how many orders each has
    SELECT customer_id, order_date, COUNT(*) AS orders
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id, order_date
),
gaps AS (
    SELECT
        customer_id,
        order_date,
        orders,
        date_diff('day', LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date), order_date) AS gap
    FROM days
),
rhythm AS (
    SELECT
        customer_id,
        CAST(SUM(orders) AS BIGINT) AS orders,
        COUNT(*) AS order_days,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date,
        CAST(MEDIAN(gap) AS DOUBLE) AS median_gap_days,
        MAX(gap) AS max_gap_days
    FROM gaps
    GROUP BY customer_id
)
SELECT
    customer_id,
    orders,
    order_days,
    first_order_date,
    last_order_date,
    date_diff('day', last_order_date, CAST($as_of AS DATE)) AS days_since_last_order,
    median_gap_days,
    max_gap_days,
    date_diff('day', last_order_date, CAST($as_of AS DATE)) / NULLIF(median_gap_days, 0) AS overdue_ratio
FROM rhythm
ORDER BY customer_id
