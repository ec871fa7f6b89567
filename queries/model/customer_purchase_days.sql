-- name: customer_purchase_days
-- purpose: One customer's purchase days on or before end_date, counted the way
--   the CLV model counts them (a day with order lines of amount > 0 is one
--   purchase): the history behind the customer's P(alive) path on the account
--   page.
-- grain: one row per day on which the customer made a purchase
-- params: customer_id, end_date
-- columns: purchase_date
SELECT DISTINCT order_date AS purchase_date
FROM stg_transactions
WHERE customer_id = $customer_id AND amount > 0 AND order_date <= CAST($end_date AS DATE)
ORDER BY purchase_date
