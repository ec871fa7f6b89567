-- name: store_account_directory
-- purpose: Store the rows of `account_directory` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `account_directory` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `account_directory` can fill it.
-- grain: one row per known customer (customers table or transactions)
-- params: target_id, defs_key, as_of, complaint_pattern
-- uses: account_directory
-- columns: none (inserts into result_account_directory)
INSERT INTO result_account_directory
SELECT $target_id AS dataset_id, $defs_key AS defs_key, customer_id, name, region, industry, owner, tier, is_key_account, created_at, first_order_date, last_order_date, orders, revenue, last_contact_date
FROM account_directory
