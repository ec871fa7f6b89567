-- name: insert_interactions
-- purpose: Store the accepted rows of a parsed interactions file (view ingest_parsed).
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO interactions
SELECT $target_id, row_number, customer_id, date, type, resolved, satisfaction, note
FROM ingest_parsed
WHERE reject_reason IS NULL
