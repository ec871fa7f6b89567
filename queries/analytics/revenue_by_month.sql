-- name: revenue_by_month
-- purpose: Net revenue (every line, returns included) per calendar month of
--   the lines dated in [$start, $as_of], split by the customer's region or
--   owner ($split: 'region', 'owner', anything else: one group). A customer's
--   region and owner are read as the global filters read them
--   (queries/filters/customer_attributes.sql): the customers table, else the
--   customer's most recent transaction line that has one. A customer without
--   one is in the group NULL. Months without lines are left out (the caller
--   fills them with 0).
-- grain: one row per month and group with at least one line
-- params: start, as_of, split
-- columns: month, group_value, revenue
WITH from_lines AS (
    SELECT
        customer_id,
        arg_max(region, order_date) FILTER (WHERE region IS NOT NULL) AS region,
        arg_max(owner, order_date) FILTER (WHERE owner IS NOT NULL) AS owner
    FROM stg_transactions
    GROUP BY customer_id
),
attributes AS (
    SELECT
        l.customer_id,
        COALESCE(c.region, l.region) AS region,
        COALESCE(c.owner, l.owner) AS owner
    FROM from_lines AS l
    LEFT JOIN stg_customers AS c ON c.customer_id = l.customer_id
)
SELECT
    CAST(date_trunc('month', t.order_date) AS DATE) AS month,
    CASE CAST($split AS VARCHAR)
        WHEN 'region' THEN a.region
        WHEN 'owner' THEN a.owner
        ELSE 'all'
    END AS group_value,
    SUM(t.amount) AS revenue
FROM stg_transactions AS t
JOIN attributes AS a ON a.customer_id = t.customer_id
WHERE t.order_date >= CAST($start AS DATE) AND t.order_date <= CAST($as_of AS DATE)
GROUP BY ALL
ORDER BY month, group_value NULLS LAST
