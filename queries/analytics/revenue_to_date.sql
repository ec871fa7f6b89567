-- name: revenue_to_date
-- purpose: Net revenue (every line, returns included) dated on or before each
--   date: the running total the Overview's 12-month revenue cards subtract
--   (revenue in (D - 1 year, D] = total at D - total at D - 1 year; the same
--   sums as the last point of the Pareto curve at those dates). 0 before the
--   first line.
-- grain: one row per requested date
-- params: dates
-- columns: snapshot_date, revenue
WITH snapshots AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
per_day AS (
    SELECT order_date, SUM(amount) AS revenue
    FROM stg_transactions
    GROUP BY order_date
)
SELECT s.snapshot_date, COALESCE(SUM(p.revenue), 0) AS revenue
FROM snapshots AS s
LEFT JOIN per_day AS p ON p.order_date <= s.snapshot_date
GROUP BY s.snapshot_date
ORDER BY s.snapshot_date
