-- name: stage_snapshots
-- purpose: Customers in each stage at each snapshot date (e.g. every month end),
--   for the stacked stage chart. `none` is left out.
-- grain: one row per (snapshot_date, stage) that has customers
-- params: dates, lost_after_days, loyal_orders, loyal_window_days
-- uses: customer_stages
-- columns: snapshot_date, stage, customers
SELECT snapshot_date, stage, COUNT(*) AS customers
FROM customer_stages
WHERE stage <> 'none'
GROUP BY snapshot_date, stage
ORDER BY snapshot_date, stage
