-- name: get_dataset
-- purpose: One stored dataset by name, with its validation report (JSON text).
-- grain: zero or one row
-- params: dataset_name
-- columns: dataset_id, name, created_at, source, n_transactions, n_customers, n_interactions,
--   n_rejected, has_order_id, report
SELECT dataset_id, name, created_at, source, n_transactions, n_customers, n_interactions,
       n_rejected, has_order_id, report
FROM datasets
WHERE name = $dataset_name
