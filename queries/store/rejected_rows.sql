-- name: rejected_rows
-- purpose: Every row of a stored dataset that was rejected at ingestion, with the reason.
-- grain: one row per rejected input row
-- params: target_id
-- columns: source, row_number, reason, raw
SELECT source, row_number, reason, raw
FROM rejected_rows
WHERE dataset_id = $target_id
ORDER BY source, row_number
