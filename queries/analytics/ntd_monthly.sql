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
-- params: dates, lost_after_days, loyal_window_days
-- columns: snapshot_date, active_customers, mean_relationship_days, revenue,
--   revenue_per_active, categories_per_active
-- method: by events, without a row per (customer, snapshot). Each order opens
--   the span [order_date, min(next order, order_date + lost_after_days + 1))
--   during which its customer is active with that order as the last one, so
--   N(D) and the sum of relationship days at D are running sums of +1/-1 and
--   +days/-days at the spans' ends. A customer's spans chained without a gap
--   form an active island; revenue counts a customer's month lines at D when an
--   island holds D. A category counts for a customer at D while D lies in
--   [line day, line day + loyal_window_days) of one of its lines: those
--   intervals, cut at the category's next line day into disjoint spans and
--   intersected with the customer's active islands, give +1/-1 events for the
--   breadth sum.
WITH snapshots AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
order_days AS (
    SELECT DISTINCT customer_id, order_date
    FROM stg_orders
),
sequenced AS (
    SELECT
        customer_id,
        order_date,
        LAG(order_date) OVER by_day AS previous_date,
        LEAD(order_date) OVER by_day AS next_date,
        MIN(order_date) OVER (PARTITION BY customer_id) AS first_order_date
    FROM order_days
    WINDOW by_day AS (PARTITION BY customer_id ORDER BY order_date)
),
spans AS (
    SELECT
        customer_id,
        order_date AS start_date,
        CASE WHEN next_date IS NOT NULL
                  AND date_diff('day', order_date, next_date) <= $lost_after_days THEN next_date
             ELSE CAST(order_date + ($lost_after_days + 1) * INTERVAL '1' DAY AS DATE) END AS end_date,
        date_diff('day', first_order_date, order_date) AS relationship_days,
        CASE WHEN previous_date IS NULL
                  OR date_diff('day', previous_date, order_date) > $lost_after_days THEN 1 ELSE 0 END
            AS starts_island
    FROM sequenced
),
active_islands AS (
    SELECT customer_id, MIN(start_date) AS start_date, MAX(end_date) AS end_date
    FROM (
        SELECT
            customer_id, start_date, end_date,
            SUM(starts_island) OVER (PARTITION BY customer_id ORDER BY start_date
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
        FROM spans
    ) AS numbered
    GROUP BY customer_id, island
),
span_changes AS (
    SELECT day, SUM(n) AS n, SUM(days) AS days
    FROM (
        SELECT start_date AS day, 1 AS n, relationship_days AS days FROM spans
        UNION ALL
        SELECT end_date, -1, -relationship_days FROM spans
    ) AS e
    GROUP BY day
),
active_stats AS (
    SELECT
        s.snapshot_date,
        CAST(SUM(c.n) AS BIGINT) AS active_customers,
        CAST(SUM(c.days) AS DOUBLE) AS relationship_days
    FROM snapshots AS s
    JOIN span_changes AS c ON c.day <= s.snapshot_date
    GROUP BY s.snapshot_date
),
month_lines AS (
    SELECT s.snapshot_date, t.customer_id, SUM(t.amount) AS revenue
    FROM stg_transactions AS t
    JOIN snapshots AS s
        ON date_trunc('month', t.order_date) = date_trunc('month', s.snapshot_date)
       AND t.order_date <= s.snapshot_date
    GROUP BY s.snapshot_date, t.customer_id
),
month_revenue AS (
    SELECT m.snapshot_date, SUM(m.revenue) AS revenue
    FROM month_lines AS m
    JOIN active_islands AS a
        ON a.customer_id = m.customer_id
       AND a.start_date <= m.snapshot_date AND m.snapshot_date < a.end_date
    GROUP BY m.snapshot_date
),
category_days AS (
    SELECT DISTINCT customer_id, category, order_date
    FROM stg_transactions
    WHERE amount > 0 AND category IS NOT NULL
),
category_spans AS (
    -- a category counts from a line's day until the next line of it or the
    -- window's end, whichever comes first: disjoint spans whose union is the
    -- time the category counts for the customer
    SELECT
        customer_id,
        order_date AS start_date,
        LEAST(
            COALESCE(LEAD(order_date) OVER (PARTITION BY customer_id, category ORDER BY order_date),
                     CAST(order_date + $loyal_window_days * INTERVAL '1' DAY AS DATE)),
            CAST(order_date + $loyal_window_days * INTERVAL '1' DAY AS DATE)) AS end_date
    FROM category_days
),
overlapping AS (
    SELECT GREATEST(c.start_date, a.start_date) AS start_date, LEAST(c.end_date, a.end_date) AS end_date
    FROM category_spans AS c
    JOIN active_islands AS a
        ON a.customer_id = c.customer_id AND c.start_date < a.end_date AND a.start_date < c.end_date
),
breadth_changes AS (
    SELECT day, SUM(delta) AS delta
    FROM (
        SELECT start_date AS day, 1 AS delta FROM overlapping
        UNION ALL
        SELECT end_date, -1 FROM overlapping
    ) AS e
    GROUP BY day
),
breadth AS (
    SELECT s.snapshot_date, CAST(SUM(b.delta) AS DOUBLE) AS categories
    FROM snapshots AS s
    JOIN breadth_changes AS b ON b.day <= s.snapshot_date
    GROUP BY s.snapshot_date
),
category_data AS (
    SELECT COUNT(category) > 0 AS has_category FROM stg_transactions
)
SELECT
    s.snapshot_date,
    COALESCE(st.active_customers, 0) AS active_customers,
    st.relationship_days / NULLIF(st.active_customers, 0) AS mean_relationship_days,
    COALESCE(r.revenue, 0) AS revenue,
    CAST(COALESCE(r.revenue, 0) AS DOUBLE) / NULLIF(st.active_customers, 0) AS revenue_per_active,
    CASE WHEN c.has_category AND st.active_customers > 0
         THEN COALESCE(b.categories, 0) / st.active_customers END AS categories_per_active
FROM snapshots AS s
CROSS JOIN category_data AS c
LEFT JOIN active_stats AS st ON st.snapshot_date = s.snapshot_date
LEFT JOIN month_revenue AS r ON r.snapshot_date = s.snapshot_date
LEFT JOIN breadth AS b ON b.snapshot_date = s.snapshot_date
ORDER BY s.snapshot_date
