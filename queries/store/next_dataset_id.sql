-- name: next_dataset_id
-- purpose: The id for a new dataset (ids are never reused while the file lives).
-- grain: one row
-- params: none
-- columns: dataset_id
SELECT CAST(COALESCE(MAX(dataset_id), 0) + 1 AS INTEGER) AS dataset_id FROM datasets
