-- name: period_totals
-- purpose: Revenue, orders and buying customers of each period
--   [$starts[i], $ends[i]] (both days included): revenue is the net sum of
--   every line dated in it (returns included), orders are the orders of
--   stg_orders (SPEC §2: amount > 0) dated in it, buying customers the
--   distinct customers with at least one of those orders. The quarter- and
--   year-to-date comparisons of the Overview (crmflow.managers).
-- grain: one row per requested period, in the order given (period = 0, 1, ...)
-- params: starts, ends
-- columns: period, start_date, end_date, revenue, orders, buying_customers
WITH periods AS (
    SELECT
        CAST(p.i - 1 AS INTEGER) AS period,
        CAST(list_extract($starts, p.i) AS DATE) AS start_date,
        CAST(list_extract($ends, p.i) AS DATE) AS end_date
    FROM UNNEST(generate_series(1, array_length($starts))) AS p(i)
),
line_totals AS (
    SELECT p.period, COALESCE(SUM(t.amount), 0) AS revenue
    FROM periods AS p
    LEFT JOIN stg_transactions AS t
        ON t.order_date >= p.start_date AND t.order_date <= p.end_date
    GROUP BY p.period
),
order_totals AS (
    SELECT
        p.period,
        COUNT(o.customer_id) AS orders,
        COUNT(DISTINCT o.customer_id) AS buying_customers
    FROM periods AS p
    LEFT JOIN stg_orders AS o
        ON o.order_date >= p.start_date AND o.order_date <= p.end_date
    GROUP BY p.period
)
SELECT p.period, p.start_date, p.end_date, l.revenue, o.orders, o.buying_customers
FROM periods AS p
JOIN line_totals AS l ON l.period = p.period
JOIN order_totals AS o ON o.period = p.period
ORDER BY p.period
