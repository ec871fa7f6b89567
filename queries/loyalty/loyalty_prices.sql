-- name: loyalty_prices
-- purpose: Price sensitivity per customer at each snapshot date D
--   (crmflow/loyalty.py): the customer's orders <= D that carry a price (a line
--   with amount > 0 and a discount or a list price; orders as in SPEC §2: a
--   distinct order_id, else a distinct customer day, dated by the first day of
--   its priced lines)
--   and how many of them were bought at a discount. A line is at a discount
--   when its discount is above zero, or when its amount is below its list
--   price times its quantity (1 when empty) by more than half a cent; an order
--   is at a discount when one of its lines is. Reads the discounts stored at
--   ingest (transaction_prices) for the lines the filters keep (stg_transactions).
-- grain: one row per (snapshot_date, customer_id) with a priced order on or before snapshot_date
-- params: dates
-- columns: snapshot_date, customer_id, priced_orders, discounted_orders
WITH price_dates AS (
    SELECT DISTINCT CAST(d AS DATE) AS snapshot_date
    FROM UNNEST($dates) AS requested(d)
),
lines AS (
    SELECT
        t.customer_id,
        t.order_id,
        t.order_date,
        COALESCE(p.discount > 0, FALSE)
            OR COALESCE(t.amount < p.list_price * COALESCE(t.quantity, 1) - 0.005, FALSE) AS discounted
    FROM stg_transactions AS t
    JOIN transaction_prices AS p
        ON p.dataset_id = getvariable('dataset_id') AND p.row_number = t.row_number
    WHERE t.amount > 0
),
priced_orders AS (
    SELECT
        customer_id,
        MIN(order_date) AS order_date,
        BOOL_OR(discounted) AS discounted
    FROM lines
    GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN order_date END
)
SELECT
    s.snapshot_date,
    o.customer_id,
    COUNT(*) AS priced_orders,
    CAST(SUM(CASE WHEN o.discounted THEN 1 ELSE 0 END) AS BIGINT) AS discounted_orders
FROM price_dates AS s
JOIN priced_orders AS o ON o.order_date <= s.snapshot_date
GROUP BY s.snapshot_date, o.customer_id
ORDER BY s.snapshot_date, o.customer_id
