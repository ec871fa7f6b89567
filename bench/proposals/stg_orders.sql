-- name: stg_orders
-- kind: view
-- uses: stg_transactions
-- purpose: PROPOSED NEW staging view (see bench/NOTES.md): one row per order
--   as SPEC §2 defines it -- a distinct order_id, else a distinct customer
--   day, of the lines with amount > 0 -- dated by its first day. This is what
--   rfm, cohort_retention, order_rhythm, won_back_lost_monthly and the stage
--   engine each rebuild today with "GROUP BY customer_id, order_key" over
--   stg_order_days; grouping the lines by (customer_id, order_id, day when
--   order_id is NULL) gives the same orders without building an order_key
--   string for every line and without grouping twice (3x faster at 1M lines).
-- grain: one row per order
-- params: none
-- columns: customer_id, order_id, order_date, amount
SELECT
    customer_id,
    order_id,
    MIN(order_date) AS order_date,
    SUM(amount) AS amount
FROM stg_transactions
WHERE amount > 0
GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN order_date END
