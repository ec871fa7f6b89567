-- name: datasets_without_results
-- purpose: The stored datasets that have no stored results computed by this
--   version of the queries (stored before crmflow kept results, computed by an
--   older crmflow, or whose results failed): the next process that opens the
--   file for writing computes them (crmflow.results). A dataset without any
--   order has nothing to store. $code is crmflow.results.code_version(), which
--   every definitions key of this version carries.
-- grain: one row per dataset
-- params: code
-- columns: dataset_id
SELECT d.dataset_id
FROM datasets AS d
WHERE NOT EXISTS (SELECT 1 FROM result_runs AS r WHERE r.dataset_id = d.dataset_id AND contains(r.defs_key, $code))
  AND EXISTS (SELECT 1 FROM orders AS o WHERE o.dataset_id = d.dataset_id)
ORDER BY d.dataset_id
