-- name: cohort_retention
-- purpose: Cohort retention as of D (SPEC §2). A customer's cohort is the
--   calendar month of their first order on or before D (orders as in rfm: lines
--   with amount > 0, an order's date is its first day <= D). For every cohort
--   and every month offset k = 0 .. (D's month - cohort month), including months
--   with no activity (0, so the heatmap is a full triangle): active_customers =
--   cohort customers with an order dated in calendar month cohort + k (and <= D);
--   retention = active_customers / cohort_size; revenue = net revenue (returns
--   included) of the cohort's lines dated in that month and <= D;
--   revenue_per_customer = revenue / cohort_size. Lines dated before a
--   customer's cohort month (e.g. a return with no order yet) are left out.
-- grain: one row per (cohort_month, month_offset)
-- params: as_of
-- columns: cohort_month, month_offset, activity_month, cohort_size, active_customers,
--   retention, revenue, revenue_per_customer
WITH orders AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
first_orders AS (
    SELECT customer_id, CAST(date_trunc('month', MIN(order_date)) AS DATE) AS cohort_month
    FROM orders
    GROUP BY customer_id
),
cohorts AS (
    SELECT cohort_month, COUNT(*) AS cohort_size
    FROM first_orders
    GROUP BY cohort_month
),
grid AS (
    SELECT c.cohort_month, c.cohort_size, CAST(series.m AS DATE) AS activity_month
    FROM cohorts AS c,
         UNNEST(generate_series(c.cohort_month,
                                CAST(date_trunc('month', CAST($as_of AS DATE)) AS DATE),
                                INTERVAL '1' MONTH)) AS series(m)
),
active AS (
    SELECT
        f.cohort_month,
        CAST(date_trunc('month', o.order_date) AS DATE) AS activity_month,
        COUNT(DISTINCT o.customer_id) AS active_customers
    FROM orders AS o
    JOIN first_orders AS f ON f.customer_id = o.customer_id
    GROUP BY 1, 2
),
revenue AS (
    SELECT
        f.cohort_month,
        CAST(date_trunc('month', t.order_date) AS DATE) AS activity_month,
        SUM(t.amount) AS revenue
    FROM stg_transactions AS t
    JOIN first_orders AS f ON f.customer_id = t.customer_id
    WHERE t.order_date <= CAST($as_of AS DATE) AND t.order_date >= f.cohort_month
    GROUP BY 1, 2
)
SELECT
    g.cohort_month,
    (year(g.activity_month) - year(g.cohort_month)) * 12
        + (month(g.activity_month) - month(g.cohort_month)) AS month_offset,
    g.activity_month,
    g.cohort_size,
    COALESCE(a.active_customers, 0) AS active_customers,
    CAST(COALESCE(a.active_customers, 0) AS DOUBLE) / g.cohort_size AS retention,
    COALESCE(r.revenue, 0) AS revenue,
    CAST(COALESCE(r.revenue, 0) AS DOUBLE) / g.cohort_size AS revenue_per_customer
FROM grid AS g
LEFT JOIN active AS a ON a.cohort_month = g.cohort_month AND a.activity_month = g.activity_month
LEFT JOIN revenue AS r ON r.cohort_month = g.cohort_month AND r.activity_month = g.activity_month
ORDER BY g.cohort_month, month_offset
