-- name: store_pareto
-- purpose: Store the rows of `pareto` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `pareto` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `pareto` can fill it.
-- grain: one row per customer with a line on or before as_of
-- params: target_id, defs_key, as_of, measure
-- uses: pareto
-- columns: none (inserts into result_pareto)
INSERT INTO result_pareto
SELECT $target_id AS dataset_id, $defs_key AS defs_key, rank, customer_id, value, cumulative_value,
       customer_share, cumulative_share, customers, total
FROM pareto
