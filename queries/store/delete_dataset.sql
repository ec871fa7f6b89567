-- name: delete_dataset
-- kind: script
-- purpose: Remove one dataset and all its rows (run inside one transaction,
--   after drop_results has removed its stored results and fits: crmflow.store).
-- grain: n/a
-- params: target_id
-- columns: none
DELETE FROM transactions WHERE dataset_id = $target_id;
DELETE FROM orders WHERE dataset_id = $target_id;
DELETE FROM transaction_prices WHERE dataset_id = $target_id;
DELETE FROM transaction_customers WHERE dataset_id = $target_id;
DELETE FROM customers WHERE dataset_id = $target_id;
DELETE FROM interactions WHERE dataset_id = $target_id;
DELETE FROM surveys WHERE dataset_id = $target_id;
DELETE FROM rejected_rows WHERE dataset_id = $target_id;
DELETE FROM datasets WHERE dataset_id = $target_id
