-- name: rfm
-- purpose: RFM as of D (SPEC §2) for every customer with at least one order on
--   or before D. recency_days = days from the last order to D; frequency =
--   orders on or before D (an order is a distinct order_id, else a distinct
--   customer day, made of lines with amount > 0; its date is its first such day
--   <= D); monetary = net revenue of all the customer's lines dated <= D, returns
--   included. Scores 1-5, 5 best (fewest days, most orders, most revenue).
--   Tie rule: sort the customers from worst to best on the metric; score =
--   1 + floor(5 * (number of customers strictly worse) / n). Equal values always
--   get equal scores, the result never depends on row order, and n distinct
--   evenly spread values give exact quintiles (with n < 5 the best customer
--   gets 1 + floor(5 * (n - 1) / n), e.g. scores 1 and 3 for two customers).
--   The segment is looked up from (r_score, f_score) in crmflow/data/rfm_segments.csv.
-- grain: one row per customer with an order on or before as_of
-- params: as_of
-- columns: customer_id, recency_days, frequency, monetary, r_score, f_score,
--   m_score, first_order_date, last_order_date
WITH orders AS (
    SELECT customer_id, order_id, order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
order_stats AS (
    SELECT
        customer_id,
        COUNT(*) AS frequency,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date
    FROM orders
    GROUP BY customer_id
),
revenue AS (
    SELECT customer_id, SUM(amount) AS monetary
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
),
metrics AS (
    SELECT
        o.customer_id,
        date_diff('day', o.last_order_date, CAST($as_of AS DATE)) AS recency_days,
        o.frequency,
        COALESCE(r.monetary, 0) AS monetary,
        o.first_order_date,
        o.last_order_date
    FROM order_stats AS o
    LEFT JOIN revenue AS r ON r.customer_id = o.customer_id
)
SELECT
    customer_id,
    recency_days,
    frequency,
    monetary,
    1 + CAST(FLOOR(5 * (RANK() OVER (ORDER BY recency_days DESC) - 1) / COUNT(*) OVER ()) AS INTEGER)
        AS r_score,
    1 + CAST(FLOOR(5 * (RANK() OVER (ORDER BY frequency ASC) - 1) / COUNT(*) OVER ()) AS INTEGER)
        AS f_score,
    1 + CAST(FLOOR(5 * (RANK() OVER (ORDER BY monetary ASC) - 1) / COUNT(*) OVER ()) AS INTEGER)
        AS m_score,
    first_order_date,
    last_order_date
FROM metrics
ORDER BY customer_id
