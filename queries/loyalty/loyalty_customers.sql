-- name: loyalty_customers
-- purpose: The loyalty measures of every customer with an order on or before
--   each snapshot date D (crmflow/loyalty.py defines them; seed 003,
--   顾客忠诚度的衡量标准). Orders are SPEC §2's (stg_orders: amount > 0).
--   orders = orders <= D; orders_in_window = orders in (D - loyal_window_days, D]
--   (the stage rules' window); buying_days = distinct order dates <= D;
--   interval_cv = population standard deviation / mean of the days between
--   consecutive buying days <= D, NULL with fewer than 3 buying days;
--   categories_bought = distinct non-empty categories of the customer's lines
--   with amount > 0 dated <= D, categories_total = the same over every
--   customer in scope (0: the data has no category); complaint_date = the
--   customer's first complaint <= D (an interaction whose lower-cased type
--   matches complaint_pattern), orders_after_complaint = orders dated after
--   that day and <= D.
-- grain: one row per (snapshot_date, customer_id) with an order on or before snapshot_date
-- params: dates, loyal_window_days, complaint_pattern
-- columns: snapshot_date, customer_id, orders, orders_in_window, buying_days,
--   interval_cv, categories_bought, categories_total, complaint_date,
--   orders_after_complaint
WITH snapshot_dates AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
order_stats AS (
    SELECT
        s.snapshot_date,
        o.customer_id,
        COUNT(*) AS orders,
        SUM(CASE WHEN date_diff('day', o.order_date, s.snapshot_date) < $loyal_window_days
                 THEN 1 ELSE 0 END) AS orders_in_window
    FROM snapshot_dates AS s
    JOIN stg_orders AS o ON o.order_date <= s.snapshot_date
    GROUP BY s.snapshot_date, o.customer_id
),
buying_days AS (
    SELECT DISTINCT customer_id, order_date
    FROM stg_orders
),
gaps AS (
    -- the gap ending on a buying day depends only on the earlier days, so it is
    -- computed once; a snapshot keeps the gaps that end on or before it
    SELECT
        customer_id,
        order_date,
        date_diff('day', LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date), order_date) AS gap
    FROM buying_days
),
regularity AS (
    SELECT
        s.snapshot_date,
        g.customer_id,
        COUNT(*) AS buying_days,
        CASE WHEN COUNT(g.gap) >= 2 THEN STDDEV_POP(g.gap) / AVG(g.gap) END AS interval_cv
    FROM snapshot_dates AS s
    JOIN gaps AS g ON g.order_date <= s.snapshot_date
    GROUP BY s.snapshot_date, g.customer_id
),
first_bought AS (
    SELECT customer_id, category, MIN(order_date) AS first_date
    FROM stg_transactions
    WHERE amount > 0 AND category IS NOT NULL AND trim(category) <> ''
    GROUP BY customer_id, category
),
breadth AS (
    SELECT s.snapshot_date, f.customer_id, COUNT(*) AS categories_bought
    FROM snapshot_dates AS s
    JOIN first_bought AS f ON f.first_date <= s.snapshot_date
    GROUP BY s.snapshot_date, f.customer_id
),
category_totals AS (
    SELECT s.snapshot_date, COUNT(DISTINCT f.category) AS categories_total
    FROM snapshot_dates AS s
    LEFT JOIN first_bought AS f ON f.first_date <= s.snapshot_date
    GROUP BY s.snapshot_date
),
complaints AS (
    SELECT s.snapshot_date, i.customer_id, MIN(i.date) AS complaint_date
    FROM snapshot_dates AS s
    JOIN stg_interactions AS i ON i.date <= s.snapshot_date
    WHERE regexp_matches(lower(i.type), $complaint_pattern)
    GROUP BY s.snapshot_date, i.customer_id
),
after_complaint AS (
    SELECT c.snapshot_date, c.customer_id, COUNT(o.order_date) AS orders_after_complaint
    FROM complaints AS c
    LEFT JOIN stg_orders AS o
        ON o.customer_id = c.customer_id
        AND o.order_date > c.complaint_date
        AND o.order_date <= c.snapshot_date
    GROUP BY c.snapshot_date, c.customer_id
)
SELECT
    o.snapshot_date,
    o.customer_id,
    o.orders,
    o.orders_in_window,
    r.buying_days,
    r.interval_cv,
    COALESCE(b.categories_bought, 0) AS categories_bought,
    t.categories_total,
    c.complaint_date,
    a.orders_after_complaint
FROM order_stats AS o
JOIN regularity AS r ON r.snapshot_date = o.snapshot_date AND r.customer_id = o.customer_id
JOIN category_totals AS t ON t.snapshot_date = o.snapshot_date
LEFT JOIN breadth AS b ON b.snapshot_date = o.snapshot_date AND b.customer_id = o.customer_id
LEFT JOIN complaints AS c ON c.snapshot_date = o.snapshot_date AND c.customer_id = o.customer_id
LEFT JOIN after_complaint AS a ON a.snapshot_date = o.snapshot_date AND a.customer_id = o.customer_id
ORDER BY o.snapshot_date, o.customer_id
