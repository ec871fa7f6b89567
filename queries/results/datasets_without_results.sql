-- name: datasets_without_results
-- purpose: The stored datasets that have no stored results yet (stored
--   before crmflow kept results, or whose results failed): the next process
--   that opens the file for writing computes them (crmflow.results). A
--   dataset without any order has nothing to store.
-- grain: one row per dataset
-- params: none
-- columns: dataset_id
SELECT d.dataset_id
FROM datasets AS d
WHERE NOT EXISTS (SELECT 1 FROM result_runs AS r WHERE r.dataset_id = d.dataset_id)
  AND EXISTS (SELECT 1 FROM orders AS o WHERE o.dataset_id = d.dataset_id)
ORDER BY d.dataset_id
