-- name: key_accounts
-- purpose: The key accounts at D (SPEC §2). When any customer in the customers
--   table is flagged is_key_account, the key accounts are the flagged customers
--   that exist at D (created_at <= D, no created_at, or an order on or before D);
--   a flagged account that has been lost stays a key account (it is probably at
--   risk, which is what the health table must show). Otherwise: rank the
--   customers with 12-month revenue > 0 (revenue over (D - 365, D], returns
--   netted) by revenue, highest first, ties by customer_id ascending, and take
--   the smallest top set whose revenue is >= share of the revenue of all those
--   customers: a customer is in when the revenue share of the customers ranked
--   before it is < share, and its rank is <= max_accounts (the cap). Customers
--   with revenue <= 0 are never selected and do not count in the total.
-- grain: one row per key account
-- params: as_of, share, max_accounts
-- columns: customer_id, name, owner, selected_by, revenue_12m, revenue_rank,
--   revenue_share, cumulative_share
WITH revenue AS (
    SELECT customer_id, CAST(SUM(amount) AS DOUBLE) AS revenue_12m
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
      AND date_diff('day', order_date, CAST($as_of AS DATE)) < 365
    GROUP BY customer_id
),
positive AS (
    SELECT customer_id, revenue_12m, SUM(revenue_12m) OVER () AS total_revenue
    FROM revenue
    WHERE revenue_12m > 0
),
ranked AS (
    SELECT
        customer_id,
        revenue_12m,
        ROW_NUMBER() OVER (ORDER BY revenue_12m DESC, customer_id) AS revenue_rank,
        revenue_12m / total_revenue AS revenue_share,
        COALESCE(SUM(revenue_12m) OVER (ORDER BY revenue_12m DESC, customer_id
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            / total_revenue AS share_before,
        SUM(revenue_12m) OVER (ORDER BY revenue_12m DESC, customer_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / total_revenue AS cumulative_share
    FROM positive
),
first_orders AS (
    SELECT customer_id, MIN(order_date) AS first_order_date
    FROM stg_orders
    WHERE order_date <= CAST($as_of AS DATE)
    GROUP BY customer_id
),
flag_mode AS (
    SELECT SUM(CASE WHEN is_key_account THEN 1 ELSE 0 END) > 0 AS any_flagged
    FROM stg_customers
),
flagged AS (
    SELECT c.customer_id, 'flag' AS selected_by
    FROM stg_customers AS c
    LEFT JOIN first_orders AS f ON f.customer_id = c.customer_id
    WHERE c.is_key_account
      AND (c.created_at IS NULL OR c.created_at <= CAST($as_of AS DATE) OR f.first_order_date IS NOT NULL)
),
top_revenue AS (
    SELECT r.customer_id, 'revenue' AS selected_by
    FROM ranked AS r
    CROSS JOIN flag_mode AS m
    WHERE NOT COALESCE(m.any_flagged, FALSE)
      AND r.share_before < $share
      AND r.revenue_rank <= $max_accounts
),
selected AS (
    SELECT customer_id, selected_by FROM flagged
    UNION ALL
    SELECT customer_id, selected_by FROM top_revenue
),
line_owner AS (
    SELECT customer_id, ARG_MAX(owner, order_date) AS owner
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE) AND owner IS NOT NULL
    GROUP BY customer_id
),
final AS (
    SELECT
        s.customer_id,
        c.name,
        COALESCE(c.owner, o.owner) AS owner,
        s.selected_by,
        COALESCE(v.revenue_12m, 0) AS revenue_12m,
        r.revenue_rank,
        r.revenue_share,
        r.cumulative_share
    FROM selected AS s
    LEFT JOIN stg_customers AS c ON c.customer_id = s.customer_id
    LEFT JOIN line_owner AS o ON o.customer_id = s.customer_id
    LEFT JOIN revenue AS v ON v.customer_id = s.customer_id
    LEFT JOIN ranked AS r ON r.customer_id = s.customer_id
)
SELECT * FROM final
ORDER BY revenue_12m DESC, customer_id
