-- name: servqual_response_dimensions
-- purpose: Each survey response's gap per Servqual dimension: the mean of
--   perception − expectation over the response's items in that dimension
--   (Parasuraman, Zeithaml & Berry 1988 score a dimension this way), answers
--   dated on or before D. A response is its response id; without one, the
--   customer and date; without a customer id either, the file row (a wide
--   file's row is one response; in a long file without ids each row stands
--   alone).
-- grain: one row per (response, dimension)
-- params: as_of
-- columns: response_key, customer_id, date, dimension, items, expectation, perception, gap
SELECT
    COALESCE('id:' || response_id, 'cd:' || customer_id || '|' || CAST(date AS VARCHAR),
             'row:' || CAST(row_number AS VARCHAR)) AS response_key,
    any_value(customer_id) AS customer_id,
    MIN(date) AS date,
    dimension,
    COUNT(*) AS items,
    AVG(expectation) AS expectation,
    AVG(perception) AS perception,
    AVG(perception - expectation) AS gap
FROM stg_surveys
WHERE date <= CAST($as_of AS DATE)
GROUP BY 1, dimension
ORDER BY 3, 1, dimension
