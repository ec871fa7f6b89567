-- name: customer_stages
-- purpose: The stage of every known customer at each snapshot date (SPEC §2),
--   first rule that applies:
--   1. no order on or before D: potential if listed in the customers table with
--      created_at <= D or no created_at, otherwise none (does not exist yet);
--   2. days from the last order to D > lost_after_days: lost;
--   3. orders in the window (D - loyal_window_days, D] >= loyal_orders: loyal;
--   4. orders on or before D >= 2: repeat;  5. otherwise (one order): first.
--   An order counts at D when it has a line with amount > 0 dated on or before
--   D; its date is its first such day.
-- grain: one row per (snapshot_date, customer_id), every known customer, `none` included
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- columns: snapshot_date, customer_id, stage, orders, orders_in_window,
--   first_order_date, last_order_date, days_since_last_order
WITH snapshot_dates AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
orders_at AS (
    SELECT s.snapshot_date, o.customer_id, o.order_key, MIN(o.order_date) AS order_date
    FROM snapshot_dates AS s
    JOIN stg_order_days AS o ON o.order_date <= s.snapshot_date
    GROUP BY s.snapshot_date, o.customer_id, o.order_key
),
order_stats AS (
    SELECT
        snapshot_date,
        customer_id,
        COUNT(*) AS orders,
        SUM(CASE WHEN date_diff('day', order_date, snapshot_date) < $loyal_window_days
                 THEN 1 ELSE 0 END) AS orders_in_window,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date
    FROM orders_at
    GROUP BY snapshot_date, customer_id
),
final AS (
    SELECT
        s.snapshot_date,
        u.customer_id,
        CASE
            WHEN st.orders IS NULL THEN
                CASE WHEN u.is_listed AND (u.created_at IS NULL OR u.created_at <= s.snapshot_date)
                     THEN 'potential' ELSE 'none' END
            WHEN date_diff('day', st.last_order_date, s.snapshot_date) > $lost_after_days THEN 'lost'
            WHEN st.orders_in_window >= $loyal_orders THEN 'loyal'
            WHEN st.orders >= 2 THEN 'repeat'
            ELSE 'first'
        END AS stage,
        COALESCE(st.orders, 0) AS orders,
        COALESCE(st.orders_in_window, 0) AS orders_in_window,
        st.first_order_date,
        st.last_order_date,
        date_diff('day', st.last_order_date, s.snapshot_date) AS days_since_last_order
    FROM snapshot_dates AS s
    CROSS JOIN stg_customer_universe AS u
    LEFT JOIN order_stats AS st
        ON st.snapshot_date = s.snapshot_date AND st.customer_id = u.customer_id
)
SELECT * FROM final
