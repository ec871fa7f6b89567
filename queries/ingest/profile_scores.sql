-- name: profile_scores
-- purpose: How many of a staged survey's scores (expectation and perception,
--   view ingest_stage) are numbers, the largest of them that is at most 10
--   (a score above 10 is out of every scale) and how many are 0
--   (crmflow.survey_ingest.choose_scale picks the scale from these).
-- grain: one row
-- params: decimal_comma
-- columns: n_scores, max_score, zeros
WITH scores AS (
    SELECT crm_number(crm_text(expectation), $decimal_comma) AS score FROM ingest_stage
    UNION ALL
    SELECT crm_number(crm_text(perception), $decimal_comma) AS score FROM ingest_stage
)
SELECT
    COUNT(score) AS n_scores,
    MAX(score) FILTER (WHERE score <= 10) AS max_score,
    COUNT(*) FILTER (WHERE score = 0) AS zeros
FROM scores
