-- name: insert_rejected
-- purpose: Keep every rejected row of a parsed file with its reason, for download.
-- grain: n/a
-- params: target_id, source
-- columns: none
INSERT INTO rejected_rows
SELECT $target_id, $source, row_number, reject_reason, raw
FROM ingest_parsed
WHERE reject_reason IS NOT NULL
