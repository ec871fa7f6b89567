-- name: cost_coverage
-- purpose: Which optional transaction columns the analytics can use as of D:
--   how many lines dated on or before D there are, how many have a cost (profit
--   is only shown when some do) and how many have a category (breadth, the D of
--   N/t/D, needs it).
-- grain: one row
-- params: as_of
-- columns: lines, lines_with_cost, lines_with_category
SELECT
    COUNT(*) AS lines,
    COUNT(cost) AS lines_with_cost,
    COUNT(category) AS lines_with_category
FROM stg_transactions
WHERE order_date <= CAST($as_of AS DATE)
