-- name: churn_complaints
-- purpose: Complaints of each customer dated on or before D, and how many of
--   them are unresolved. A complaint is an interaction whose type, lower-cased,
--   matches the regular expression complaint_pattern (churn warnings bind
--   'complaint|投诉|抱怨|客诉', so "Complaint", "complaints", "客户投诉" all
--   count). A complaint is unresolved when resolved is false or missing. The
--   resolved flag is the one in the data (its state at export time, not
--   necessarily at D).
-- grain: one row per customer with a complaint on or before as_of
-- params: as_of, complaint_pattern
-- columns: customer_id, complaints, unresolved_complaints, last_unresolved_date
SELECT
    customer_id,
    COUNT(*) AS complaints,
    CAST(SUM(CASE WHEN NOT COALESCE(resolved, FALSE) THEN 1 ELSE 0 END) AS BIGINT) AS unresolved_complaints,
    MAX(CASE WHEN NOT COALESCE(resolved, FALSE) THEN date END) AS last_unresolved_date
FROM stg_interactions
WHERE date <= CAST($as_of AS DATE)
    AND regexp_matches(lower(type), $complaint_pattern)
GROUP BY customer_id
ORDER BY customer_id
