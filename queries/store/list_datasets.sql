-- name: list_datasets
-- purpose: The stored datasets, newest first.
-- grain: one row per dataset
-- params: none
-- columns: dataset_id, name, created_at, source, n_transactions, n_customers, n_interactions,
--   n_rejected, has_order_id
SELECT dataset_id, name, created_at, source, n_transactions, n_customers, n_interactions,
       n_rejected, has_order_id
FROM datasets
ORDER BY created_at DESC, dataset_id DESC
