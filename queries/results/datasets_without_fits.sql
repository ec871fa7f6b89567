-- name: datasets_without_fits
-- purpose: The stored datasets whose fits (table result_params) this version
--   of crmflow has not stored yet, newest first: the dashboard fits them in the
--   background (crmflow.background). A dataset without any order has nothing
--   to fit. $code is crmflow.results.code_version(), which every definitions
--   key of this version carries; $query_name is the note of stored fits
--   (crmflow.results.FITS_RUN).
-- grain: one row per dataset
-- params: code, query_name
-- columns: dataset_id
SELECT d.dataset_id
FROM datasets AS d
WHERE NOT EXISTS (SELECT 1 FROM result_runs AS r
                  WHERE r.dataset_id = d.dataset_id AND r.query = $query_name AND contains(r.defs_key, $code))
  AND EXISTS (SELECT 1 FROM orders AS o WHERE o.dataset_id = d.dataset_id)
ORDER BY d.dataset_id DESC
