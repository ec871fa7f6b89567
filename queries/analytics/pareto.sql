-- name: pareto
-- purpose: The Pareto curve as of D (SPEC §2). Customers = everyone with a
--   transaction line dated on or before D; value = net revenue of those lines
--   (measure 'revenue') or profit = sum of (amount - cost) over the lines that
--   have a cost (measure 'profit'; 0 for a customer none of whose lines has a
--   cost -- callers check cost_coverage first). Customers are ranked by value
--   descending, ties by customer_id, so the rank is unique; cumulative_value
--   is the running sum down to this rank, customer_share = rank / n and
--   cumulative_share = cumulative_value / total (NULL when total <= 0: no share
--   is meaningful then). With negative values the curve can rise above 1 and
--   fall back to 1 at the last customer (value destroyers).
-- grain: one row per customer with a line on or before as_of
-- params: as_of, measure
-- columns: rank, customer_id, value, cumulative_value, customer_share,
--   cumulative_share, customers, total
WITH lines AS (
    SELECT
        customer_id,
        CASE WHEN $measure = 'profit' THEN amount - cost ELSE amount END AS value
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
),
per_customer AS (
    SELECT customer_id, COALESCE(SUM(value), 0) AS value
    FROM lines
    GROUP BY customer_id
),
ranked AS (
    SELECT
        ROW_NUMBER() OVER (ORDER BY value DESC, customer_id ASC) AS rank,
        customer_id,
        value,
        SUM(value) OVER (ORDER BY value DESC, customer_id ASC
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative_value,
        COUNT(*) OVER () AS customers,
        SUM(value) OVER () AS total
    FROM per_customer
)
SELECT
    rank,
    customer_id,
    value,
    cumulative_value,
    CAST(rank AS DOUBLE) / customers AS customer_share,
    CASE WHEN total > 0 THEN CAST(cumulative_value AS DOUBLE) / CAST(total AS DOUBLE) END AS cumulative_share,
    customers,
    total
FROM ranked
ORDER BY rank
