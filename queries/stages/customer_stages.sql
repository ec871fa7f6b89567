-- name: customer_stages
-- purpose: The stage of every known customer at each snapshot date (SPEC §2),
--   first rule that applies:
--   1. no order on or before D: potential if listed in the customers table with
--      created_at <= D or no created_at, otherwise none (does not exist yet);
--   2. days from the last order to D > lost_after_days: lost;
--   3. orders in the window (D - loyal_window_days, D] >= loyal_orders: loyal;
--   4. orders on or before D >= 2: repeat;  5. otherwise (one order): first.
--   An order counts at D when it has a line with amount > 0 dated on or before
--   D; its date is its first such day (which is its first day overall, since
--   it counts at D only if that day is on or before D).
--   How: dates become day numbers; each customer's buying days carry the
--   running count of orders up to that day and the next buying day, so the
--   state at D is the one buying-day row with day <= D < next day (a range
--   join that yields one row per customer and date, however many orders there
--   are), and orders in the window = running count at D - running count at
--   D - loyal_window_days. Customers without an order by D join the dates on
--   their first order day instead. No date arithmetic beyond integers, so the
--   same SQL runs on Spark.
-- grain: one row per (snapshot_date, customer_id), every known customer, `none` included
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- columns: snapshot_date, customer_id, stage, orders, orders_in_window,
--   first_order_date, last_order_date, days_since_last_order
WITH snapshot_dates AS (
    SELECT DISTINCT
        CAST(d AS DATE) AS snapshot_date,
        date_diff('day', DATE '1970-01-01', CAST(d AS DATE)) AS snapshot_day
    FROM UNNEST($dates) AS requested(d)
),
orders AS (
    SELECT customer_id, order_key, MIN(order_date) AS order_date
    FROM stg_order_days
    GROUP BY customer_id, order_key
),
order_days AS (
    SELECT customer_id, order_date, COUNT(*) AS orders_that_day
    FROM orders
    GROUP BY customer_id, order_date
),
day_seq AS (
    SELECT
        customer_id,
        order_date,
        date_diff('day', DATE '1970-01-01', order_date) AS order_day,
        COALESCE(
            date_diff('day', DATE '1970-01-01',
                      LEAD(order_date) OVER (PARTITION BY customer_id ORDER BY order_date)),
            2147483647
        ) AS next_day,
        SUM(orders_that_day) OVER (PARTITION BY customer_id ORDER BY order_date
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS orders_to_date,
        MIN(order_date) OVER (PARTITION BY customer_id ORDER BY order_date
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS first_order_date
    FROM order_days
),
at_date AS (
    SELECT
        s.snapshot_date,
        s.snapshot_day,
        q.customer_id,
        q.orders_to_date AS orders,
        q.first_order_date,
        q.order_date AS last_order_date,
        s.snapshot_day - q.order_day AS days_since_last_order
    FROM snapshot_dates AS s
    JOIN day_seq AS q
        ON q.order_day <= s.snapshot_day AND q.next_day > s.snapshot_day
),
before_window AS (
    SELECT s.snapshot_date, q.customer_id, q.orders_to_date AS orders_before_window
    FROM snapshot_dates AS s
    JOIN day_seq AS q
        ON q.order_day <= s.snapshot_day - $loyal_window_days
        AND q.next_day > s.snapshot_day - $loyal_window_days
),
buyers AS (
    SELECT
        a.snapshot_date,
        a.customer_id,
        CASE
            WHEN a.days_since_last_order > $lost_after_days THEN 'lost'
            WHEN a.orders - COALESCE(b.orders_before_window, 0) >= $loyal_orders THEN 'loyal'
            WHEN a.orders >= 2 THEN 'repeat'
            ELSE 'first'
        END AS stage,
        a.orders,
        a.orders - COALESCE(b.orders_before_window, 0) AS orders_in_window,
        a.first_order_date,
        a.last_order_date,
        a.days_since_last_order
    FROM at_date AS a
    LEFT JOIN before_window AS b
        ON b.snapshot_date = a.snapshot_date AND b.customer_id = a.customer_id
),
first_days AS (
    SELECT customer_id, MIN(order_day) AS first_day
    FROM day_seq
    GROUP BY customer_id
),
not_yet_buyers AS (
    SELECT
        s.snapshot_date,
        u.customer_id,
        CASE WHEN u.is_listed AND (u.created_at IS NULL OR u.created_at <= s.snapshot_date)
             THEN 'potential' ELSE 'none' END AS stage,
        0 AS orders,
        0 AS orders_in_window,
        CAST(NULL AS DATE) AS first_order_date,
        CAST(NULL AS DATE) AS last_order_date,
        CAST(NULL AS BIGINT) AS days_since_last_order
    FROM stg_customer_universe AS u
    LEFT JOIN first_days AS f ON f.customer_id = u.customer_id
    JOIN snapshot_dates AS s
        ON f.first_day IS NULL OR f.first_day > s.snapshot_day
)
SELECT
    snapshot_date, customer_id, stage, orders, orders_in_window,
    first_order_date, last_order_date, days_since_last_order
FROM buyers
UNION ALL
SELECT
    snapshot_date, customer_id, stage, orders, orders_in_window,
    first_order_date, last_order_date, days_since_last_order
FROM not_yet_buyers
