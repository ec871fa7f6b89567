-- name: store_key_accounts
-- purpose: Store the rows of `key_accounts` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `key_accounts` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `key_accounts` can fill it.
-- grain: one row per key account
-- params: target_id, defs_key, as_of, share, max_accounts
-- uses: key_accounts
-- columns: none (inserts into result_key_accounts)
INSERT INTO result_key_accounts
SELECT $target_id AS dataset_id, $defs_key AS defs_key, customer_id, name, owner, selected_by, revenue_12m, revenue_rank, revenue_share, cumulative_share
FROM key_accounts
