-- name: stage_counts
-- purpose: Number of customers in each stage at one date D (customers that do
--   not exist yet at D, stage `none`, are not counted). Every stage is listed,
--   with 0 when empty, in flow order.
-- grain: one row per stage (5 rows)
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: customer_stages
-- columns: stage, customers
WITH stage_list AS (
    SELECT 'potential' AS stage, 1 AS stage_order UNION ALL
    SELECT 'first', 2 UNION ALL
    SELECT 'repeat', 3 UNION ALL
    SELECT 'loyal', 4 UNION ALL
    SELECT 'lost', 5
),
counted AS (
    SELECT stage, COUNT(*) AS customers
    FROM customer_stages
    GROUP BY stage
)
SELECT l.stage, COALESCE(c.customers, 0) AS customers
FROM stage_list AS l
LEFT JOIN counted AS c ON c.stage = l.stage
ORDER BY l.stage_order
