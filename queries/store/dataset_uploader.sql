-- name: dataset_uploader
-- purpose: Who stored a dataset as it is now (its upload or replace row in the
--   audit trail; none for a dataset stored before the trail or by the demo).
-- grain: at most one row
-- params: target_id
-- columns: actor, via
SELECT actor, via
FROM audit
WHERE dataset_id = $target_id AND action IN ('upload', 'replace')
ORDER BY changed_at DESC, rowid DESC
LIMIT 1
