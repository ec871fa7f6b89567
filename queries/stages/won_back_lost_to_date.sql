-- name: won_back_lost_to_date
-- purpose: Won back and lost customers up to each date, counted as
--   won_back_lost_monthly counts them (distinct customers per calendar month,
--   summed over the months) but for several dates at once: the Overview's
--   cards take differences of these running totals. The events are computed
--   once, up to as_of = the latest of the dates (won_back_lost_events: an
--   event up to D is the same whatever later date they are computed at), and
--   counted for each date up to it.
-- grain: one row per requested date
-- params: dates, as_of, lost_after_days
-- uses: won_back_lost_events
-- columns: snapshot_date, won_back, lost
WITH snapshots AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
monthly AS (
    SELECT
        s.snapshot_date,
        e.kind,
        date_trunc('month', e.event_date) AS month,
        COUNT(DISTINCT e.customer_id) AS customers
    FROM snapshots AS s
    JOIN won_back_lost_events AS e ON e.event_date <= s.snapshot_date
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
