-- name: store_revenue_to_date
-- purpose: Store the rows of `revenue_to_date` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `revenue_to_date` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `revenue_to_date` can fill it.
-- grain: one row per stored date
-- params: target_id, defs_key, dates
-- uses: revenue_to_date
-- columns: none (inserts into result_revenue_to_date)
INSERT INTO result_revenue_to_date
SELECT $target_id AS dataset_id, $defs_key AS defs_key, snapshot_date, revenue
FROM revenue_to_date
