-- name: rename_dataset
-- purpose: Give a stored dataset a new name.
-- grain: n/a
-- params: target_id, new_name
-- columns: none
UPDATE datasets SET name = $new_name WHERE dataset_id = $target_id
