-- name: won_back_lost_monthly
-- purpose: Won back (挽回) and newly lost customers per month, up to D: the
--   distinct customers with an event of each kind (won_back_lost_events) in
--   the month, won back in the month of the order that won them back, lost in
--   the month they became lost.
-- grain: one row per calendar month from the first order month to D's month
-- params: as_of, lost_after_days
-- uses: won_back_lost_events
-- columns: month, won_back, lost
WITH monthly AS (
    SELECT
        CAST(date_trunc('month', event_date) AS DATE) AS month,
        COUNT(DISTINCT CASE WHEN kind = 'won_back' THEN customer_id END) AS won_back,
        COUNT(DISTINCT CASE WHEN kind = 'lost' THEN customer_id END) AS lost
    FROM won_back_lost_events
    GROUP BY 1
),
months AS (
    SELECT CAST(m AS DATE) AS month
    FROM (SELECT MIN(order_date) AS first_day FROM stg_orders WHERE order_date <= CAST($as_of AS DATE)) AS bounds,
         UNNEST(generate_series(CAST(date_trunc('month', bounds.first_day) AS DATE),
                                CAST(date_trunc('month', CAST($as_of AS DATE)) AS DATE),
                                INTERVAL '1' MONTH)) AS series(m)
)
SELECT
    m.month,
    COALESCE(e.won_back, 0) AS won_back,
    COALESCE(e.lost, 0) AS lost
FROM months AS m
LEFT JOIN monthly AS e ON e.month = m.month
ORDER BY m.month
