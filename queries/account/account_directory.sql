-- name: account_directory
-- purpose: Every known customer with what the account picker, the account
--   header and a call list need: name, region, industry, tier, key-account flag
--   and created_at from the customers table; region and owner from it, else
--   from the customer's most recent transaction line that has one (as
--   customer_attributes and churn warnings do); first and last order date,
--   orders (SPEC §2: orders of stg_orders, counted once on their first
--   day) and net revenue (returns included) on or before D; and the last
--   contact on or before D: the latest interaction that is not a complaint (a
--   type matching complaint_pattern, as in churn_complaints).
-- grain: one row per known customer (customers table or transactions)
-- params: as_of, complaint_pattern
-- columns: customer_id, name, region, industry, owner, tier, is_key_account, created_at, first_order_date,
--   last_order_date, orders, revenue, last_contact_date
WITH known AS (
    SELECT customer_id FROM stg_customers
    UNION
    SELECT customer_id FROM stg_transactions
),
lines AS (
    SELECT
        customer_id,
        SUM(amount) AS revenue,
        arg_max(region, order_date) FILTER (WHERE region IS NOT NULL) AS region,
        arg_max(owner, order_date) FILTER (WHERE owner IS NOT NULL) AS owner
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
),
order_starts AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
orders AS (
    SELECT
        customer_id,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date,
        COUNT(*) AS orders
    FROM order_starts
    GROUP BY customer_id
),
contacts AS (
    SELECT customer_id, MAX(date) AS last_contact_date
    FROM stg_interactions
    WHERE date <= CAST($as_of AS DATE)
        AND NOT regexp_matches(lower(type), $complaint_pattern)
    GROUP BY customer_id
),
final AS (
    SELECT
        u.customer_id,
        c.name,
        COALESCE(c.region, l.region) AS region,
        c.industry,
        COALESCE(c.owner, l.owner) AS owner,
        c.tier,
        COALESCE(c.is_key_account, FALSE) AS is_key_account,
        c.created_at,
        o.first_order_date,
        o.last_order_date,
        COALESCE(o.orders, 0) AS orders,
        COALESCE(l.revenue, 0) AS revenue,
        k.last_contact_date
    FROM known AS u
    LEFT JOIN stg_customers AS c ON c.customer_id = u.customer_id
    LEFT JOIN lines AS l ON l.customer_id = u.customer_id
    LEFT JOIN orders AS o ON o.customer_id = u.customer_id
    LEFT JOIN contacts AS k ON k.customer_id = u.customer_id
)
SELECT * FROM final
ORDER BY customer_id
