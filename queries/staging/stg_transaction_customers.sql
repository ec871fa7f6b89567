-- name: stg_transaction_customers
-- kind: view
-- uses: stg_transactions
-- purpose: The distinct customer ids of the chosen dataset's transaction lines
--   (any amount), read from the table stored at ingest
--   (queries/store/insert_transaction_customers.sql) and narrowed by the
--   customer filters like stg_transactions; with a channel filter they are
--   taken from the kept lines instead (only customers with a line in those
--   channels). Exactly one branch returns rows (see stg_orders).
-- grain: one row per customer_id
-- params: none
-- columns: customer_id
SELECT customer_id
FROM transaction_customers
WHERE dataset_id = getvariable('dataset_id')
    AND getvariable('filter_channels') IS NULL
    AND in_customer_scope(customer_id)
UNION ALL
SELECT DISTINCT customer_id
FROM stg_transactions
WHERE getvariable('filter_channels') IS NOT NULL
