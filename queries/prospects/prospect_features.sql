-- name: prospect_features
-- purpose: What the conversion prospects (crmflow/prospects.py) know of each
--   customer who can take a next stage step at X (dates holds the one date X,
--   as_of is the same X): potential -> first purchase, first -> repeat,
--   repeat -> loyal (stages of SPEC §2 under lost_after_days / loyal_orders /
--   loyal_window_days). Known at X only: the stage clock (clock_start =
--   created_at for a potential customer, NULL when the customers table gives
--   none; the first order for first; the last order for repeat) and
--   days_in_stage = X - clock_start; the first order's value (all its lines
--   with amount > 0) and category (its line with the largest amount); region
--   and owner (customers table, else the most recent transaction line naming
--   one, on or before X); contacts = interactions that are not complaints
--   (type matching complaint_pattern), dated after clock_start (all, for a
--   potential customer without created_at) and on or before X; orders in the
--   loyal window at X. The outcome, used only when X is in the past: moved =
--   the next stage reached on an order day in (X, horizon_end] (potential and
--   first: any order; repeat: an order day on which the orders in
--   (day - loyal_window_days, day] reach loyal_orders), move_date that day,
--   took_days = move_date - clock_start, and value_after = net revenue (all
--   lines, returns included) in (X, horizon_end].
-- grain: one row per customer whose stage at X is potential, first or repeat
-- params: dates, lost_after_days, loyal_orders, loyal_window_days, as_of, horizon_end, complaint_pattern
-- uses: customer_stages
-- columns: customer_id, stage, clock_start, days_in_stage, first_order_value, first_category, region,
--   owner, contacts, orders_in_window, moved, move_date, took_days, value_after
WITH candidates AS (
    SELECT s.customer_id, s.stage, s.orders_in_window, s.first_order_date, s.last_order_date
    FROM customer_stages AS s
    WHERE s.stage IN ('potential', 'first', 'repeat')
),
listed AS (
    SELECT customer_id, created_at, NULLIF(TRIM(region), '') AS region, NULLIF(TRIM(owner), '') AS owner
    FROM stg_customers
),
clock AS (
    SELECT
        c.customer_id,
        CASE c.stage
            WHEN 'potential' THEN CAST(l.created_at AS DATE)
            WHEN 'first' THEN CAST(c.first_order_date AS DATE)
            ELSE CAST(c.last_order_date AS DATE)
        END AS clock_start
    FROM candidates AS c
    LEFT JOIN listed AS l ON l.customer_id = c.customer_id
),
first_lines AS (
    SELECT
        t.customer_id,
        SUM(t.amount) AS first_order_value,
        arg_max(NULLIF(TRIM(t.category), ''), t.amount) AS first_category
    FROM stg_transactions AS t
    JOIN candidates AS c ON c.customer_id = t.customer_id AND t.order_date = c.first_order_date
    WHERE t.amount > 0
    GROUP BY t.customer_id
),
latest AS (
    SELECT
        customer_id,
        arg_max(NULLIF(TRIM(region), ''), (order_date, row_number))
            FILTER (WHERE NULLIF(TRIM(region), '') IS NOT NULL) AS region,
        arg_max(NULLIF(TRIM(owner), ''), (order_date, row_number))
            FILTER (WHERE NULLIF(TRIM(owner), '') IS NOT NULL) AS owner
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
),
contacts AS (
    SELECT i.customer_id, COUNT(*) AS contacts
    FROM stg_interactions AS i
    JOIN clock AS k ON k.customer_id = i.customer_id
    WHERE i.date <= CAST($as_of AS DATE)
      AND (k.clock_start IS NULL OR i.date > k.clock_start)
      AND NOT regexp_matches(lower(COALESCE(i.type, '')), $complaint_pattern)
    GROUP BY i.customer_id
),
later_orders AS (
    SELECT o.customer_id, o.order_date
    FROM stg_orders AS o
    JOIN candidates AS c ON c.customer_id = o.customer_id
    WHERE o.order_date > CAST($as_of AS DATE) AND o.order_date <= CAST($horizon_end AS DATE)
),
loyal_days AS (
    -- for repeat customers: the order days after X on which the window count reaches loyal_orders
    SELECT l.customer_id, MIN(l.order_date) AS loyal_date
    FROM (SELECT DISTINCT customer_id, order_date FROM later_orders) AS l
    JOIN candidates AS c ON c.customer_id = l.customer_id AND c.stage = 'repeat'
    JOIN stg_orders AS o ON o.customer_id = l.customer_id AND o.order_date <= l.order_date
        AND date_diff('day', o.order_date, l.order_date) < $loyal_window_days
    GROUP BY l.customer_id, l.order_date
    HAVING COUNT(*) >= $loyal_orders
),
moves AS (
    SELECT c.customer_id,
        CASE WHEN c.stage = 'repeat' THEN (SELECT MIN(d.loyal_date) FROM loyal_days AS d
                                           WHERE d.customer_id = c.customer_id)
             ELSE (SELECT MIN(l.order_date) FROM later_orders AS l WHERE l.customer_id = c.customer_id)
        END AS move_date
    FROM candidates AS c
),
value_after AS (
    SELECT t.customer_id, SUM(t.amount) AS value_after
    FROM stg_transactions AS t
    JOIN candidates AS c ON c.customer_id = t.customer_id
    WHERE t.order_date > CAST($as_of AS DATE) AND t.order_date <= CAST($horizon_end AS DATE)
    GROUP BY t.customer_id
)
SELECT
    c.customer_id,
    c.stage,
    k.clock_start,
    date_diff('day', k.clock_start, CAST($as_of AS DATE)) AS days_in_stage,
    f.first_order_value,
    f.first_category,
    COALESCE(l.region, t.region) AS region,
    COALESCE(l.owner, t.owner) AS owner,
    COALESCE(n.contacts, 0) AS contacts,
    c.orders_in_window,
    m.move_date IS NOT NULL AS moved,
    m.move_date,
    date_diff('day', k.clock_start, m.move_date) AS took_days,
    COALESCE(v.value_after, 0) AS value_after
FROM candidates AS c
JOIN clock AS k ON k.customer_id = c.customer_id
LEFT JOIN listed AS l ON l.customer_id = c.customer_id
LEFT JOIN first_lines AS f ON f.customer_id = c.customer_id
LEFT JOIN latest AS t ON t.customer_id = c.customer_id
LEFT JOIN contacts AS n ON n.customer_id = c.customer_id
LEFT JOIN moves AS m ON m.customer_id = c.customer_id
LEFT JOIN value_after AS v ON v.customer_id = c.customer_id
ORDER BY c.customer_id
