-- name: drop_result_params
-- purpose: Remove the stored fits of one dataset (before storing them again).
-- grain: n/a
-- params: target_id
-- columns: none
DELETE FROM result_params WHERE dataset_id = $target_id
