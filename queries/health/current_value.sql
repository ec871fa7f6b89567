-- name: current_value
-- purpose: The current value of each customer at D for the value matrix (SPEC
--   §2): profit over the 12 months (D - 365, D] when the dataset has costs in
--   them (some line of the 12 months has a cost: health_coverage's has_cost,
--   computed here alone), otherwise revenue over them. Revenue nets
--   returns; profit = sum of amount - cost over the lines that have a cost
--   (lines without one are left out). A customer with no line in the 12 months
--   has current value 0.
-- grain: one row per customer with an order on or before as_of
-- params: as_of
-- columns: customer_id, name, revenue_12m, profit_12m, value_basis, current_value
WITH customers_at AS (
    SELECT DISTINCT customer_id
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
),
measures AS (
    SELECT
        customer_id,
        CAST(SUM(amount) AS DOUBLE) AS revenue_12m,
        CAST(SUM(CASE WHEN cost IS NOT NULL THEN amount - cost END) AS DOUBLE) AS profit_12m,
        COUNT(cost) AS lines_with_cost
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
      AND date_diff('day', order_date, CAST($as_of AS DATE)) < 365
    GROUP BY customer_id
),
cov AS (
    SELECT COALESCE(SUM(lines_with_cost), 0) > 0 AS has_cost FROM measures
),
final AS (
    SELECT
        c.customer_id,
        n.name,
        COALESCE(m.revenue_12m, 0) AS revenue_12m,
        CASE WHEN cov.has_cost THEN COALESCE(m.profit_12m, 0) END AS profit_12m,
        CASE WHEN cov.has_cost THEN 'profit' ELSE 'revenue' END AS value_basis,
        CASE WHEN cov.has_cost THEN COALESCE(m.profit_12m, 0) ELSE COALESCE(m.revenue_12m, 0) END
            AS current_value
    FROM customers_at AS c
    CROSS JOIN cov
    LEFT JOIN measures AS m ON m.customer_id = c.customer_id
    LEFT JOIN stg_customers AS n ON n.customer_id = c.customer_id
)
SELECT * FROM final
ORDER BY customer_id
