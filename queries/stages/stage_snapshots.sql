-- name: stage_snapshots
-- purpose: Customers in each stage at each snapshot date, `none`
--   left out, without building one row per (customer, snapshot date).
--   A customer's stage is constant between events, so each order of each
--   customer is turned into the intervals [start, end) of the stages it
--   causes, and the count of a stage at D is the number of its intervals that
--   contain D: a running sum of +1 at each start and -1 at each end, evaluated
--   at the snapshot dates. With the customer's orders t_1 <= t_2 <= ... (an
--   order dated by its first day with a line of amount > 0, as in
--   customer_stages: that day is the order's date at every D on or after it),
--   for D in [t_i, t_(i+1)): orders = i, last order = t_i, so the customer is
--     lost   from t_i + lost_after_days + 1 on,
--     loyal  while D < t_(i - loyal_orders + 1) + loyal_window_days (the
--            loyal_orders-th most recent order is still in the window),
--     else   repeat (i >= 2) or first (i = 1);
--   before t_1 a listed customer is potential from created_at (or always,
--   without created_at). Ties (several orders on one day) give empty intervals.
-- grain: one row per (snapshot_date, stage) that has customers
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- columns: snapshot_date, stage, customers
WITH snapshot_dates AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
orders AS (
    SELECT customer_id, order_date
    FROM stg_orders
),
sequenced AS (
    SELECT
        customer_id,
        order_date,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date) AS order_number,
        LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date) AS next_order_date,
        LAG(order_date, $loyal_orders - 1) OVER (PARTITION BY customer_id ORDER BY order_date) AS anchor_date
    FROM orders
),
bounds AS (
    SELECT
        customer_id,
        order_date,
        order_number,
        next_order_date,
        CAST(order_date + ($lost_after_days + 1) * INTERVAL '1' DAY AS DATE) AS lost_date,
        CAST(anchor_date + $loyal_window_days * INTERVAL '1' DAY AS DATE) AS loyal_until
    FROM sequenced
),
active AS (
    SELECT
        *,
        CASE WHEN next_order_date IS NULL OR lost_date < next_order_date THEN lost_date
             ELSE next_order_date END AS active_end
    FROM bounds
),
split AS (
    SELECT
        *,
        CASE WHEN loyal_until IS NULL OR loyal_until <= order_date THEN order_date
             WHEN loyal_until < active_end THEN loyal_until
             ELSE active_end END AS loyal_end
    FROM active
),
first_orders AS (
    SELECT customer_id, MIN(order_date) AS first_order_date
    FROM orders
    GROUP BY customer_id
),
intervals AS (
    SELECT 'loyal' AS stage, order_date AS start_date, loyal_end AS end_date FROM split
    UNION ALL
    SELECT CASE WHEN order_number >= 2 THEN 'repeat' ELSE 'first' END, loyal_end, active_end FROM split
    UNION ALL
    SELECT 'lost', lost_date, next_order_date FROM split
    WHERE next_order_date IS NULL OR lost_date < next_order_date
    UNION ALL
    SELECT 'potential', u.created_at, f.first_order_date
    FROM stg_customer_universe AS u
    LEFT JOIN first_orders AS f ON f.customer_id = u.customer_id
    WHERE u.is_listed
),
events AS (
    SELECT stage, start_date AS event_date, 1 AS delta
    FROM intervals
    WHERE end_date IS NULL OR start_date IS NULL OR start_date < end_date
    UNION ALL
    SELECT stage, end_date, -1
    FROM intervals
    WHERE end_date IS NOT NULL AND (start_date IS NULL OR start_date < end_date)
),
changes AS (
    SELECT stage, event_date, SUM(delta) AS delta
    FROM events
    GROUP BY stage, event_date
),
counted AS (
    SELECT s.snapshot_date, c.stage, CAST(SUM(c.delta) AS BIGINT) AS customers
    FROM snapshot_dates AS s
    JOIN changes AS c ON c.event_date IS NULL OR c.event_date <= s.snapshot_date
    GROUP BY s.snapshot_date, c.stage
)
SELECT snapshot_date, stage, customers
FROM counted
WHERE customers > 0
ORDER BY snapshot_date, stage
