-- name: holdout_purchases
-- purpose: Actual purchases in the holdout (start_date, end_date] of the
--   customers who had bought on or before start_date, counted the way the CLV
--   model counts them: distinct days with an order line of amount > 0.
--   Customers with no purchase in the holdout have 0.
-- grain: one row per customer with a purchase on or before start_date
-- params: start_date, end_date
-- columns: customer_id, actual_purchases
WITH known AS (
    SELECT DISTINCT customer_id
    FROM stg_orders
    WHERE order_date <= CAST($start_date AS DATE)
),
holdout AS (
    SELECT customer_id, COUNT(DISTINCT order_date) AS purchases
    FROM stg_transactions
    WHERE amount > 0 AND order_date > CAST($start_date AS DATE) AND order_date <= CAST($end_date AS DATE)
    GROUP BY customer_id
)
SELECT k.customer_id, COALESCE(h.purchases, 0) AS actual_purchases
FROM known AS k
LEFT JOIN holdout AS h ON h.customer_id = k.customer_id
ORDER BY k.customer_id
