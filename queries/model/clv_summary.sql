-- name: clv_summary
-- purpose: The calibration summary the CLV model is fitted on (SPEC §2, Fader,
--   Hardie & Lee 2005): purchases are counted at day level -- a customer's
--   order lines with amount > 0 on one day are one purchase, their amounts
--   summed -- and only days on or before the calibration end count.
--   frequency = purchase days - 1 (repeat purchases); recency_weeks = days
--   from the first to the last purchase / 7; t_weeks = days from the first
--   purchase to the calibration end / 7 (a customer who first bought on the
--   calibration end has T = 0); monetary = mean amount of the repeat purchases
--   (0 without repeats); mean_purchase_value = mean amount of all its
--   purchases, first included (the spend fallback). Returns (amount <= 0) are not purchases and do not
--   lower the spend of a purchase.
-- grain: one row per customer with a purchase on or before calibration_end
-- params: calibration_end
-- columns: customer_id, frequency, recency_weeks, t_weeks, monetary,
--   mean_purchase_value, first_purchase_date, last_purchase_date
WITH purchase_days AS (
    SELECT customer_id, order_date, SUM(amount) AS amount
    FROM stg_transactions
    WHERE amount > 0 AND order_date <= CAST($calibration_end AS DATE)
    GROUP BY customer_id, order_date
),
ranked AS (
    SELECT
        customer_id,
        order_date,
        amount,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date) AS purchase_number
    FROM purchase_days
)
SELECT
    customer_id,
    COUNT(*) - 1 AS frequency,
    date_diff('day', MIN(order_date), MAX(order_date)) / 7.0 AS recency_weeks,
    date_diff('day', MIN(order_date), CAST($calibration_end AS DATE)) / 7.0 AS t_weeks,
    COALESCE(
        CAST(SUM(CASE WHEN purchase_number > 1 THEN amount END) AS DOUBLE) / NULLIF(COUNT(*) - 1, 0),
        0.0
    ) AS monetary,
    CAST(SUM(amount) AS DOUBLE) / COUNT(*) AS mean_purchase_value,
    MIN(order_date) AS first_purchase_date,
    MAX(order_date) AS last_purchase_date
FROM ranked
GROUP BY customer_id
ORDER BY customer_id
