-- name: churn_contact
-- purpose: Is contact with a customer thinning out? Interactions that are not
--   complaints (visits, calls, emails, meetings, ...; a complaint is a type
--   matching complaint_pattern, as in churn_complaints) in the recent window
--   (D - window_days, D] against the window before it
--   (D - 2 * window_days, D - window_days]; the same windows as
--   churn_order_trend.
-- grain: one row per customer with a non-complaint interaction in the two windows
-- params: as_of, window_days, complaint_pattern
-- columns: customer_id, contacts_recent, contacts_previous
SELECT
    customer_id,
    CAST(SUM(CASE WHEN date_diff('day', date, CAST($as_of AS DATE)) < $window_days
                  THEN 1 ELSE 0 END) AS BIGINT) AS contacts_recent,
    CAST(SUM(CASE WHEN date_diff('day', date, CAST($as_of AS DATE)) >= $window_days
                  THEN 1 ELSE 0 END) AS BIGINT) AS contacts_previous
FROM stg_interactions
WHERE date <= CAST($as_of AS DATE)
    AND date_diff('day', date, CAST($as_of AS DATE)) < 2 * $window_days
    AND NOT regexp_matches(lower(type), $complaint_pattern)
GROUP BY customer_id
ORDER BY customer_id
