-- name: flow_customers
-- purpose: Drill-down of a flow: the customers whose stage went from one stage
--   at D1 to another at D2 (the two values of dates).
-- grain: one row per customer in that flow
-- params: dates, lost_after_days, loyal_orders, loyal_window_days, from_stage, to_stage
-- uses: customer_stages
-- columns: customer_id, from_stage, to_stage, orders, last_order_date
SELECT
    t.customer_id,
    f.stage AS from_stage,
    t.stage AS to_stage,
    t.orders,
    t.last_order_date
FROM customer_stages AS f
JOIN customer_stages AS t
    ON t.customer_id = f.customer_id AND f.snapshot_date < t.snapshot_date
WHERE f.stage = $from_stage AND t.stage = $to_stage
ORDER BY t.customer_id
