-- name: stage_flow
-- purpose: Flow between two dates D1 < D2 (the two values of dates): every
--   customer's (stage at D1, stage at D2) pair, `none` included, counted.
-- grain: one row per (from_stage, to_stage) pair that has customers
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: customer_stages
-- columns: from_stage, to_stage, customers
SELECT f.stage AS from_stage, t.stage AS to_stage, COUNT(*) AS customers
FROM customer_stages AS f
JOIN customer_stages AS t
    ON t.customer_id = f.customer_id AND f.snapshot_date < t.snapshot_date
GROUP BY f.stage, t.stage
