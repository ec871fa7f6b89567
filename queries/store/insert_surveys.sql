-- name: insert_surveys
-- purpose: Store the accepted rows of a parsed Servqual survey (view ingest_parsed).
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO surveys
SELECT $target_id, row_number, response_id, customer_id, date, item, dimension, expectation, perception, scale_max
FROM ingest_parsed
WHERE reject_reason IS NULL
