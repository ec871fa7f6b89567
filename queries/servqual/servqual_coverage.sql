-- name: servqual_coverage
-- purpose: Whether the dataset has a Servqual survey and how much of it: answers,
--   answers with a customer id, the score scale, first and last answer date
--   (whole dataset, every date; the view says what to upload when answers = 0).
-- grain: one row
-- params: none
-- columns: answers, answers_with_customer, scale_max, first_date, last_date
SELECT
    COUNT(*) AS answers,
    COUNT(customer_id) AS answers_with_customer,
    MAX(scale_max) AS scale_max,
    MIN(date) AS first_date,
    MAX(date) AS last_date
FROM stg_surveys
