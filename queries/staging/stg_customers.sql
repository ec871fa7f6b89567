-- name: stg_customers
-- kind: view
-- purpose: The chosen dataset's customers table (one row per customer; ingestion
--   keeps the first row of a duplicated id and reports the others).
--   Global filters (crmflow.filters) narrow it through session variables:
--   filter_set names a set of customers in crm_scratch.filter_sets (region,
--   owner and segment filters), filter_channels lists the sales channels kept
--   (transactions only), filter_customers lists customer ids a single call is
--   narrowed to (e.g. the key accounts being scored). Unset variables are NULL and filter nothing; DuckDB
--   folds them into constants when planning.
-- grain: one row per customer_id
-- params: none
-- columns: customer_id, name, created_at, region, industry, owner, tier, is_key_account, credit_limit
SELECT
    customer_id, name, created_at, region, industry, owner, tier, is_key_account, credit_limit
FROM customers
WHERE dataset_id = getvariable('dataset_id')
    AND in_customer_scope(customer_id)
