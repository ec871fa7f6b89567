-- name: customer_stages
-- purpose: The stage of every known customer at each snapshot date (SPEC §2).
--   The orders are dated once, before the join with the
--   snapshot dates, instead of once per (snapshot date, customer, order) after
--   it. An order's first day with a line of amount > 0 on or before D is its
--   first such day overall whenever that day is <= D, so the result is the
--   same; the join then carries (customer, date) pairs and the big group-by
--   over (snapshot, customer, order_key) strings disappears.
--   Rules as in the original (SPEC §2): no order <= D: potential if listed with
--   created_at <= D or none, else none; > lost_after_days since the last
--   order: lost; >= loyal_orders in (D - loyal_window_days, D]: loyal;
--   >= 2 orders: repeat; else first.
-- grain: one row per (snapshot_date, customer_id), every known customer, `none` included
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- columns: snapshot_date, customer_id, stage, orders, orders_in_window,
--   first_order_date, last_order_date, days_since_last_order
WITH snapshot_dates AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
orders AS (
    SELECT customer_id, order_date
    FROM stg_orders
),
order_stats AS (
    SELECT
        s.snapshot_date,
        o.customer_id,
        COUNT(*) AS orders,
        SUM(CASE WHEN date_diff('day', o.order_date, s.snapshot_date) < $loyal_window_days
                 THEN 1 ELSE 0 END) AS orders_in_window,
        MIN(o.order_date) AS first_order_date,
        MAX(o.order_date) AS last_order_date
    FROM snapshot_dates AS s
    JOIN orders AS o ON o.order_date <= s.snapshot_date
    GROUP BY s.snapshot_date, o.customer_id
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
