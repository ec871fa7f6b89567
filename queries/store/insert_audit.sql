-- name: insert_audit
-- purpose: Record one change of a dataset in the audit trail.
-- grain: n/a (one row inserted)
-- params: changed_at, actor, via, action, target_id, dataset_name, detail
-- columns: none
INSERT INTO audit (changed_at, actor, via, action, dataset_id, dataset, detail)
VALUES ($changed_at, $actor, $via, $action, $target_id, $dataset_name, $detail)
