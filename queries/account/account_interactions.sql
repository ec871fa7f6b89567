-- name: account_interactions
-- purpose: One customer's interactions (visits, calls, emails, meetings,
--   complaints, ...) on or before D, for the contacts row of the account
--   timeline. A complaint is a type matching complaint_pattern, lower-cased
--   (as in churn_complaints); it is unresolved when resolved is false or
--   missing.
-- grain: one row per interaction of the customer
-- params: customer_id, as_of, complaint_pattern
-- columns: date, type, is_complaint, is_unresolved, resolved, satisfaction, note
WITH final AS (
    SELECT
        date,
        type,
        regexp_matches(lower(type), $complaint_pattern) AS is_complaint,
        regexp_matches(lower(type), $complaint_pattern) AND NOT COALESCE(resolved, FALSE) AS is_unresolved,
        resolved,
        satisfaction,
        note
    FROM stg_interactions
    WHERE customer_id = $customer_id AND date <= CAST($as_of AS DATE)
)
SELECT * FROM final
ORDER BY date, type
