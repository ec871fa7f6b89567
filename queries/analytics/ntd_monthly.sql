-- name: ntd_monthly
-- purpose: The three goals of relationship management (SPEC §2) at each
--   snapshot date (e.g. every month end): N = active_customers (stage first,
--   repeat or loyal at that date); t = mean_relationship_days, the mean number
--   of days from first to last order of the active customers; D = depth:
--   revenue = net revenue (returns included) of the active customers' lines
--   dated in the snapshot's calendar month up to the snapshot date,
--   revenue_per_active = revenue / N, and categories_per_active = mean over the
--   active customers of the number of distinct categories of their lines with
--   amount > 0 in (date - loyal_window_days, date] (0 for a customer with none).
--   categories_per_active is NULL when the dataset has no category at all;
--   with N = 0 the means are NULL and revenue is 0.
-- grain: one row per snapshot date
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: customer_stages
-- columns: snapshot_date, active_customers, mean_relationship_days, revenue,
--   revenue_per_active, categories_per_active
WITH snapshots AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
active AS (
    SELECT snapshot_date, customer_id, first_order_date, last_order_date
    FROM customer_stages
    WHERE stage IN ('first', 'repeat', 'loyal')
),
active_stats AS (
    SELECT
        snapshot_date,
        COUNT(*) AS active_customers,
        AVG(CAST(date_diff('day', first_order_date, last_order_date) AS DOUBLE)) AS mean_relationship_days
    FROM active
    GROUP BY snapshot_date
),
month_revenue AS (
    SELECT a.snapshot_date, SUM(t.amount) AS revenue
    FROM active AS a
    JOIN stg_transactions AS t
        ON t.customer_id = a.customer_id
       AND t.order_date <= a.snapshot_date
       AND t.order_date >= CAST(date_trunc('month', a.snapshot_date) AS DATE)
    GROUP BY a.snapshot_date
),
category_lines AS (
    SELECT customer_id, order_date, category
    FROM stg_transactions
    WHERE amount > 0 AND category IS NOT NULL
),
customer_categories AS (
    SELECT a.snapshot_date, a.customer_id, COUNT(DISTINCT l.category) AS categories
    FROM active AS a
    JOIN category_lines AS l ON l.customer_id = a.customer_id
    WHERE l.order_date <= a.snapshot_date
      AND date_diff('day', l.order_date, a.snapshot_date) < $loyal_window_days
    GROUP BY a.snapshot_date, a.customer_id
),
breadth AS (
    SELECT a.snapshot_date, AVG(CAST(COALESCE(c.categories, 0) AS DOUBLE)) AS categories_per_active
    FROM active AS a
    LEFT JOIN customer_categories AS c
        ON c.snapshot_date = a.snapshot_date AND c.customer_id = a.customer_id
    GROUP BY a.snapshot_date
),
category_data AS (
    SELECT COUNT(category) > 0 AS has_category FROM stg_transactions
)
SELECT
    s.snapshot_date,
    COALESCE(st.active_customers, 0) AS active_customers,
    st.mean_relationship_days,
    COALESCE(r.revenue, 0) AS revenue,
    CAST(COALESCE(r.revenue, 0) AS DOUBLE) / NULLIF(st.active_customers, 0) AS revenue_per_active,
    CASE WHEN c.has_category THEN b.categories_per_active END AS categories_per_active
FROM snapshots AS s
CROSS JOIN category_data AS c
LEFT JOIN active_stats AS st ON st.snapshot_date = s.snapshot_date
LEFT JOIN month_revenue AS r ON r.snapshot_date = s.snapshot_date
LEFT JOIN breadth AS b ON b.snapshot_date = s.snapshot_date
ORDER BY s.snapshot_date
