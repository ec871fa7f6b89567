-- name: insert_dataset
-- purpose: Register a dataset once its rows are stored.
-- grain: n/a (one row inserted)
-- params: target_id, dataset_name, created_at, source, n_transactions, n_customers, n_interactions,
--   n_rejected, has_order_id, report
-- columns: none
INSERT INTO datasets (dataset_id, name, created_at, source, n_transactions, n_customers,
                      n_interactions, n_rejected, has_order_id, report)
VALUES ($target_id, $dataset_name, $created_at, $source, $n_transactions, $n_customers,
        $n_interactions, $n_rejected, $has_order_id, $report)
