-- name: read_pareto
-- purpose: The stored rows of `pareto` (store_pareto) for one dataset and
--   definitions key (its as-of date and measure), in the order `pareto` returns them.
-- grain: one row per customer with a line on or before as_of
-- params: target_id, defs_key
-- columns: rank, customer_id, value, cumulative_value, customer_share,
--   cumulative_share, customers, total
SELECT rank, customer_id, value, cumulative_value, customer_share, cumulative_share, customers, total
FROM result_pareto
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY rank
