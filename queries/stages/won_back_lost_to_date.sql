-- name: won_back_lost_to_date
-- purpose: Won back and lost customers up to each date, counted as
--   won_back_lost_monthly counts them (distinct customers per calendar month,
--   summed over the months) but for several dates at once: the Overview's
--   cards take differences of these running totals. An event up to D is the
--   same whether computed from the orders up to D or from all orders up to the
--   latest date: a won-back order depends only on the earlier orders, and a
--   loss on day last + lost_after_days + 1 <= D is never undone by an order
--   after D (that order comes later still). Won back: an order more than
--   lost_after_days + 1 days after the previous order day, dated <= D. Lost:
--   the day after lost_after_days without an order (last + lost_after_days +
--   1) <= D, unless the next order came on or before it.
-- grain: one row per requested date
-- params: dates, lost_after_days
-- columns: snapshot_date, won_back, lost
WITH snapshots AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
order_days AS (
    SELECT DISTINCT customer_id, order_date
    FROM stg_orders
    WHERE order_date <= (SELECT MAX(snapshot_date) FROM snapshots)
),
gaps AS (
    SELECT
        customer_id,
        order_date,
        LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS previous_date,
        LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS next_date
    FROM order_days
),
events AS (
    SELECT customer_id, 'won_back' AS kind, order_date AS event_date
    FROM gaps
    WHERE previous_date IS NOT NULL
      AND date_diff('day', previous_date, order_date) > $lost_after_days + 1
    UNION ALL
    SELECT customer_id, 'lost', CAST(order_date + ($lost_after_days + 1) * INTERVAL '1' DAY AS DATE)
    FROM gaps
    WHERE next_date IS NULL OR date_diff('day', order_date, next_date) > $lost_after_days + 1
),
monthly AS (
    SELECT
        s.snapshot_date,
        e.kind,
        date_trunc('month', e.event_date) AS month,
        COUNT(DISTINCT e.customer_id) AS customers
    FROM snapshots AS s
    JOIN events AS e ON e.event_date <= s.snapshot_date
    GROUP BY s.snapshot_date, e.kind, date_trunc('month', e.event_date)
)
SELECT
    s.snapshot_date,
    COALESCE(SUM(CASE WHEN m.kind = 'won_back' THEN m.customers END), 0) AS won_back,
    COALESCE(SUM(CASE WHEN m.kind = 'lost' THEN m.customers END), 0) AS lost
FROM snapshots AS s
LEFT JOIN monthly AS m ON m.snapshot_date = s.snapshot_date
GROUP BY s.snapshot_date
ORDER BY s.snapshot_date
