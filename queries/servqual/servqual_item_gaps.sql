-- name: servqual_item_gaps
-- purpose: The Servqual gap (perception − expectation) of every survey item,
--   over the answers dated on or before D (view stg_surveys, which the
--   customer filters narrow): answers, mean expectation, mean perception,
--   mean gap and the gap's sample standard deviation (for its interval).
-- grain: one row per (dimension, item)
-- params: as_of
-- columns: dimension, item, answers, expectation, perception, gap, gap_sd
SELECT
    dimension,
    item,
    COUNT(*) AS answers,
    AVG(expectation) AS expectation,
    AVG(perception) AS perception,
    AVG(perception - expectation) AS gap,
    STDDEV_SAMP(perception - expectation) AS gap_sd
FROM stg_surveys
WHERE date <= CAST($as_of AS DATE)
GROUP BY dimension, item
ORDER BY dimension, item
