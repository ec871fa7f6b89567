-- name: stg_interactions
-- kind: view
-- purpose: The chosen dataset's interactions (visits, calls, complaints, ...).
-- grain: one row per interaction
-- params: none
-- columns: customer_id, date, type, resolved, satisfaction, note
SELECT customer_id, date, type, resolved, satisfaction, note
FROM interactions
WHERE dataset_id = getvariable('dataset_id')
