-- name: insert_orders
-- purpose: Store the orders of one dataset's transactions (SPEC §2): the lines
--   with amount > 0 grouped by (customer_id, order_id, day when order_id is
--   NULL) -- a distinct order_id, else a distinct customer day -- each dated by
--   its first day, with its amount and number of lines. Run right after
--   insert_transactions, and on open for a database made before the orders
--   table existed. The staging view stg_orders reads the result.
-- grain: n/a
-- params: target_id
-- columns: none
INSERT INTO orders
SELECT
    $target_id,
    customer_id,
    order_id,
    MIN(order_date) AS order_date,
    SUM(amount) AS amount,
    CAST(COUNT(*) AS INTEGER) AS lines
FROM transactions
WHERE dataset_id = $target_id AND amount > 0
GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN order_date END
ORDER BY customer_id, order_date
