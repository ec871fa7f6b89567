-- name: stg_transactions
-- kind: view
-- purpose: The chosen dataset's transaction lines (any amount, returns included).
--   The dataset is chosen by the session variable dataset_id; this view is the
--   only place that knows how datasets are stored.
-- grain: one row per transaction line
-- params: none
-- columns: row_number, customer_id, order_id, order_date, amount, quantity, product,
--   category, cost, channel, region, owner, due_date, paid_date, status
SELECT
    row_number, customer_id, order_id, order_date, amount, quantity, product,
    category, cost, channel, region, owner, due_date, paid_date, status
FROM transactions
WHERE dataset_id = getvariable('dataset_id')
