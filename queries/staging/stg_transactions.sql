-- name: stg_transactions
-- kind: view
-- purpose: The chosen dataset's transaction lines (any amount, returns included).
--   The dataset is chosen by the session variable dataset_id; this view is the
--   only place that knows how datasets are stored.
--   Global filters (crmflow.filters) narrow it through session variables:
--   filter_set names a set of customers in crm_scratch.filter_sets (region,
--   owner and segment filters), filter_channels lists the sales channels kept
--   (transactions only), filter_customers lists customer ids a single call is
--   narrowed to (e.g. the key accounts being scored). Unset variables are NULL and filter nothing; DuckDB
--   folds them into constants when planning.
-- grain: one row per transaction line
-- params: none
-- columns: row_number, customer_id, order_id, order_date, amount, quantity, product,
--   category, cost, channel, region, owner, due_date, paid_date, status
SELECT
    row_number, customer_id, order_id, order_date, amount, quantity, product,
    category, cost, channel, region, owner, due_date, paid_date, status
FROM transactions
WHERE dataset_id = getvariable('dataset_id')
    AND in_customer_scope(customer_id)
    AND (getvariable('filter_channels') IS NULL
         OR list_contains(getvariable('filter_channels'), channel))
