-- name: profile_scores
-- purpose: How many of a staged survey's scores (expectation and perception,
--   view ingest_stage) are numbers, and how many lie within 1-5, 1-7 and 1-10
--   (crmflow.survey_ingest.choose_scale picks the scale from these).
-- grain: one row
-- params: decimal_comma
-- columns: n_scores, within_5, within_7, within_10
WITH scores AS (
    SELECT crm_number(crm_text(expectation), $decimal_comma) AS score FROM ingest_stage
    UNION ALL
    SELECT crm_number(crm_text(perception), $decimal_comma) AS score FROM ingest_stage
)
SELECT
    COUNT(score) AS n_scores,
    COUNT(*) FILTER (WHERE score BETWEEN 1 AND 5) AS within_5,
    COUNT(*) FILTER (WHERE score BETWEEN 1 AND 7) AS within_7,
    COUNT(*) FILTER (WHERE score BETWEEN 1 AND 10) AS within_10
FROM scores
