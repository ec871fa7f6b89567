-- name: insert_transactions
-- purpose: Store the accepted rows of a parsed transactions file (view ingest_parsed).
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO transactions
SELECT $target_id, row_number, customer_id, order_id, order_date, amount, quantity, product,
       category, cost, channel, region, owner, due_date, paid_date, status
FROM ingest_parsed
WHERE reject_reason IS NULL
