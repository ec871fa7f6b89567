-- name: purchase_days_by_date
-- purpose: The data of the CLV model's tracking plot (Fader, Hardie & Lee
--   2005): per day, how many customers made their first purchase that day and
--   how many repeat purchases were made that day, counted the way the CLV
--   model counts them -- a customer's order lines with amount > 0 on one day
--   are one purchase; the customer's first such day is the first purchase,
--   every later one a repeat purchase. Only days on or before end_date count;
--   days with neither are left out.
-- grain: one row per day with a purchase on or before end_date
-- params: end_date
-- columns: purchase_date, first_purchases, repeat_purchases
WITH purchase_days AS (
    SELECT DISTINCT customer_id, order_date
    FROM stg_transactions
    WHERE amount > 0 AND order_date <= CAST($end_date AS DATE)
),
marked AS (
    SELECT
        order_date,
        order_date = MIN(order_date) OVER (PARTITION BY customer_id) AS is_first
    FROM purchase_days
)
SELECT
    order_date AS purchase_date,
    COUNT(*) FILTER (WHERE is_first) AS first_purchases,
    COUNT(*) FILTER (WHERE NOT is_first) AS repeat_purchases
FROM marked
GROUP BY order_date
ORDER BY order_date
