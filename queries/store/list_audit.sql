-- name: list_audit
-- purpose: The audit trail, newest first.
-- grain: one row per change of a dataset
-- params: none
-- columns: changed_at, actor, via, action, dataset_id, dataset, detail
SELECT changed_at, actor, via, action, dataset_id, dataset, detail
FROM audit
ORDER BY changed_at DESC, rowid DESC
