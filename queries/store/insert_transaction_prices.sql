-- name: insert_transaction_prices
-- purpose: Store the discount and list price of the accepted transaction lines
--   that carry either (view ingest_parsed; price sensitivity, crmflow/loyalty.py).
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO transaction_prices
SELECT $target_id, row_number, discount, list_price
FROM ingest_parsed
WHERE reject_reason IS NULL AND (discount IS NOT NULL OR list_price IS NOT NULL)
