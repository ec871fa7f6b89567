-- name: reject_summary
-- purpose: Counts of rejected rows by reason, and rows with unparseable optional
--   fields, from the parsed ingest table (view ingest_parsed).
-- grain: one row per reason (reason NULL = loaded rows)
-- params: none
-- columns: reason, rows, bad_optional
SELECT reject_reason AS reason, COUNT(*) AS rows, SUM(CASE WHEN bad_optional > 0 THEN 1 ELSE 0 END) AS bad_optional
FROM ingest_parsed
GROUP BY reject_reason
ORDER BY rows DESC
