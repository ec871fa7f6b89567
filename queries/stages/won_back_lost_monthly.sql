-- name: won_back_lost_monthly
-- purpose: Won back (挽回) and newly lost customers per month, up to D.
--   A customer is lost at a date when more than lost_after_days have passed
--   since their last order; they become lost on day last + lost_after_days + 1.
--   Won back = an order placed after having been lost, i.e. an order whose gap
--   since the previous order is > lost_after_days + 1 days (a gap of exactly
--   lost_after_days + 1 means the order falls on the day they would have become
--   lost, so they never were). Counted in the month of that order. Lost is
--   counted in the month the customer became lost, when that day is <= D.
-- grain: one row per calendar month from the first order month to D's month
-- params: as_of, lost_after_days
-- columns: month, won_back, lost
WITH orders AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= $as_of
),
order_days AS (
    SELECT DISTINCT customer_id, order_date FROM orders
),
gaps AS (
    SELECT
        customer_id,
        order_date,
        LAG(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS previous_date,
        LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS next_date
    FROM order_days
),
won_back AS (
    SELECT date_trunc('month', order_date) AS month, COUNT(DISTINCT customer_id) AS won_back
    FROM gaps
    WHERE previous_date IS NOT NULL
      AND date_diff('day', previous_date, order_date) > $lost_after_days + 1
    GROUP BY 1
),
lost AS (
    SELECT
        date_trunc('month', CAST(order_date + ($lost_after_days + 1) * INTERVAL '1' DAY AS DATE)) AS month,
        COUNT(DISTINCT customer_id) AS lost
    FROM gaps
    WHERE date_diff('day', order_date, $as_of) > $lost_after_days
      AND (next_date IS NULL OR date_diff('day', order_date, next_date) > $lost_after_days + 1)
    GROUP BY 1
),
months AS (
    SELECT CAST(m AS DATE) AS month
    FROM (SELECT MIN(order_date) AS first_day FROM order_days) AS bounds,
         UNNEST(generate_series(CAST(date_trunc('month', bounds.first_day) AS DATE),
                                CAST(date_trunc('month', CAST($as_of AS DATE)) AS DATE),
                                INTERVAL '1' MONTH)) AS series(m)
)
SELECT
    m.month,
    COALESCE(w.won_back, 0) AS won_back,
    COALESCE(l.lost, 0) AS lost
FROM months AS m
LEFT JOIN won_back AS w ON w.month = m.month
LEFT JOIN lost AS l ON l.month = m.month
ORDER BY m.month
