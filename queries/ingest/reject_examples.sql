-- name: reject_examples
-- purpose: The first rejected rows of a parsed file (view ingest_parsed), for the report.
-- grain: one row per rejected row, at most row_limit rows
-- params: row_limit
-- columns: row_number, reason, raw
SELECT row_number, reject_reason AS reason, raw
FROM ingest_parsed
WHERE reject_reason IS NOT NULL
ORDER BY row_number
LIMIT $row_limit
