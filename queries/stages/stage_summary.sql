-- name: stage_summary
-- purpose: Per snapshot date and stage: the customers in it, and how many of
--   them have bought at all (orders >= 1) and bought again (orders >= 2) on or
--   before that date -- the Overview's stage cards and repeat rate for several
--   dates from one pass of customer_stages (stages with no customer are absent;
--   `none` is included).
-- grain: one row per (snapshot_date, stage) with customers
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: customer_stages
-- columns: snapshot_date, stage, customers, buyers, repeat_buyers
SELECT
    snapshot_date,
    stage,
    COUNT(*) AS customers,
    SUM(CASE WHEN orders >= 1 THEN 1 ELSE 0 END) AS buyers,
    SUM(CASE WHEN orders >= 2 THEN 1 ELSE 0 END) AS repeat_buyers
FROM customer_stages
GROUP BY snapshot_date, stage
ORDER BY snapshot_date, stage
