-- name: insert_customers
-- purpose: Store the accepted rows of a parsed customers file (view ingest_parsed).
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO customers
SELECT $target_id, row_number, customer_id, name, created_at, region, industry, owner, tier,
       is_key_account, credit_limit
FROM ingest_parsed
WHERE reject_reason IS NULL
