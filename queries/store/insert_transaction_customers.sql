-- name: insert_transaction_customers
-- purpose: Store the distinct customer ids of one dataset's transaction lines
--   (any amount). Run right after insert_transactions, and on open for a
--   database made before the table existed. The staging view
--   stg_transaction_customers reads the result.
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO transaction_customers
SELECT DISTINCT $target_id, customer_id
FROM transactions
WHERE dataset_id = $target_id
ORDER BY customer_id
