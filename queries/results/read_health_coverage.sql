-- name: read_health_coverage
-- purpose: The stored rows of `health_coverage` (store_health_coverage) for one dataset and
--   definitions key.
-- grain: one row
-- params: target_id, defs_key
-- columns: has_cost, dataset_margin, has_due_dates, has_categories, max_categories, has_interactions, has_complaints
SELECT has_cost, dataset_margin, has_due_dates, has_categories, max_categories, has_interactions, has_complaints
FROM result_health_coverage
WHERE dataset_id = $target_id AND defs_key = $defs_key
