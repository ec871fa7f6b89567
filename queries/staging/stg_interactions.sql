-- name: stg_interactions
-- kind: view
-- purpose: The chosen dataset's interactions (visits, calls, complaints, ...).
--   Global filters (crmflow.filters) narrow it through session variables:
--   filter_set names a set of customers in crm_scratch.filter_sets (region,
--   owner and segment filters), filter_channels lists the sales channels kept
--   (transactions only), filter_customers lists customer ids a single call is
--   narrowed to (e.g. the key accounts being scored). Unset variables are NULL and filter nothing; DuckDB
--   folds them into constants when planning.
-- grain: one row per interaction
-- params: none
-- columns: customer_id, date, type, resolved, satisfaction, note
SELECT customer_id, date, type, resolved, satisfaction, note
FROM interactions
WHERE dataset_id = getvariable('dataset_id')
    AND in_customer_scope(customer_id)
