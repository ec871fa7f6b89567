-- name: read_won_back_lost_monthly
-- purpose: The stored rows of `won_back_lost_monthly` (store_won_back_lost_monthly) for one dataset and
--   definitions key, in the
--   order `won_back_lost_monthly` returns them.
-- grain: one row per calendar month from the first order month to D's month
-- params: target_id, defs_key
-- columns: month, won_back, lost
SELECT month, won_back, lost
FROM result_won_back_lost_monthly
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY month
