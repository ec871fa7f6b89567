-- name: customer_attributes
-- purpose: The attributes the global filters select customers by: region and
--   owner from the customers table, else from the customer's most recent
--   transaction line that has one; the channels the customer bought through.
--   Read from the unfiltered dataset (a filter must not depend on itself).
-- grain: one row per known customer
-- params: none
-- columns: customer_id, region, owner, channels
WITH from_transactions AS (
    SELECT
        customer_id,
        arg_max(region, order_date) FILTER (WHERE region IS NOT NULL) AS region,
        arg_max(owner, order_date) FILTER (WHERE owner IS NOT NULL) AS owner,
        list_sort(list_distinct(list(channel) FILTER (WHERE channel IS NOT NULL))) AS channels
    FROM stg_transactions
    GROUP BY customer_id
)
SELECT
    u.customer_id,
    COALESCE(c.region, t.region) AS region,
    COALESCE(c.owner, t.owner) AS owner,
    t.channels
FROM stg_customer_universe AS u
LEFT JOIN stg_customers AS c ON c.customer_id = u.customer_id
LEFT JOIN from_transactions AS t ON t.customer_id = u.customer_id
ORDER BY u.customer_id
