-- name: store_health_coverage
-- purpose: Store the rows of `health_coverage` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `health_coverage` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `health_coverage` can fill it.
-- grain: one row
-- params: target_id, defs_key, as_of
-- uses: health_coverage
-- columns: none (inserts into result_health_coverage)
INSERT INTO result_health_coverage
SELECT $target_id AS dataset_id, $defs_key AS defs_key, has_cost, dataset_margin, has_due_dates, has_categories, max_categories, has_interactions, has_complaints
FROM health_coverage
