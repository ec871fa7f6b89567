-- name: servqual_coverage
-- purpose: Whether the dataset has a Servqual survey and how much of it: answers
--   (all dates, and those dated on or before D; as_of NULL: every date), answers with
--   a customer id, the score scale (scale_min 0 when a stored score is 0: the 0-10
--   scale, crmflow.survey_ingest; else 1), first and last answer date (on or before D);
--   the view says what to upload when answers_total = 0.
-- grain: one row
-- params: as_of
-- columns: answers, answers_with_customer, scale_max, first_date, last_date, answers_total, scale_min
WITH bounds AS (SELECT CAST($as_of AS DATE) AS as_of)
SELECT
    COUNT(*) FILTER (WHERE b.as_of IS NULL OR s.date <= b.as_of) AS answers,
    COUNT(s.customer_id) FILTER (WHERE b.as_of IS NULL OR s.date <= b.as_of) AS answers_with_customer,
    MAX(s.scale_max) AS scale_max,
    MIN(s.date) FILTER (WHERE b.as_of IS NULL OR s.date <= b.as_of) AS first_date,
    MAX(s.date) FILTER (WHERE b.as_of IS NULL OR s.date <= b.as_of) AS last_date,
    COUNT(*) AS answers_total,
    CASE WHEN MIN(LEAST(s.expectation, s.perception)) = 0 THEN 0 ELSE 1 END AS scale_min
FROM stg_surveys AS s CROSS JOIN bounds AS b
