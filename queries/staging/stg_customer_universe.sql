-- name: stg_customer_universe
-- kind: view
-- uses: stg_transaction_customers, stg_customers
-- purpose: Every customer the dataset knows: those in the customers table
--   (is_listed, with their created_at) and those that only appear in transactions.
-- grain: one row per customer_id
-- params: none
-- columns: customer_id, is_listed, created_at
SELECT
    customer_id,
    MAX(CASE WHEN is_listed THEN 1 ELSE 0 END) = 1 AS is_listed,
    MIN(created_at) AS created_at
FROM (
    SELECT customer_id, TRUE AS is_listed, created_at FROM stg_customers
    UNION ALL
    SELECT customer_id, FALSE AS is_listed, CAST(NULL AS DATE) AS created_at
    FROM stg_transaction_customers
) AS known
GROUP BY customer_id
