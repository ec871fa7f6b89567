-- name: read_key_accounts
-- purpose: The stored rows of `key_accounts` (store_key_accounts) for one dataset and
--   definitions key, in the order `key_accounts` returns them.
-- grain: one row per key account
-- params: target_id, defs_key
-- columns: customer_id, name, owner, selected_by, revenue_12m, revenue_rank, revenue_share, cumulative_share
SELECT customer_id, name, owner, selected_by, revenue_12m, revenue_rank, revenue_share, cumulative_share
FROM result_key_accounts
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY revenue_12m DESC, customer_id
