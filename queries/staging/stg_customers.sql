-- name: stg_customers
-- kind: view
-- purpose: The chosen dataset's customers table (one row per customer; ingestion
--   keeps the first row of a duplicated id and reports the others).
-- grain: one row per customer_id
-- params: none
-- columns: customer_id, name, created_at, region, industry, owner, tier, is_key_account, credit_limit
SELECT
    customer_id, name, created_at, region, industry, owner, tier, is_key_account, credit_limit
FROM customers
WHERE dataset_id = getvariable('dataset_id')
