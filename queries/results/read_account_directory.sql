-- name: read_account_directory
-- purpose: The stored rows of `account_directory` (store_account_directory) for one dataset and
--   definitions key, in the order `account_directory` returns them.
-- grain: one row per known customer (customers table or transactions)
-- params: target_id, defs_key
-- columns: customer_id, name, region, industry, owner, tier, is_key_account, created_at, first_order_date, last_order_date, orders, revenue, last_contact_date
SELECT customer_id, name, region, industry, owner, tier, is_key_account, created_at, first_order_date, last_order_date, orders, revenue, last_contact_date
FROM result_account_directory
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY customer_id
