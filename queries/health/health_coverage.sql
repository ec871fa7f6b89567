-- name: health_coverage
-- purpose: Which health components the dataset can support at D, and the
--   dataset-wide anchors they are scored against. Windows count back from D:
--   the 12 months are (D - 365, D]. A component the dataset cannot support is
--   dropped from every account's score (its weight is shared among the rest):
--   has_cost -- some transaction line in the 12 months has a cost (margin);
--   dataset_margin -- (sum of amount - cost) / (sum of amount) over the
--   12-month lines that have a cost, all customers (margin is dropped when it
--   is NULL or <= 0);
--   has_due_dates -- some line with amount > 0 in the 12 months has a due date
--   (payment punctuality);
--   has_categories, max_categories -- some line with amount > 0 in the 12
--   months has a category; the most distinct categories any one customer bought
--   in them (breadth);
--   has_interactions -- some interaction dated on or before D (contact
--   frequency); has_complaints -- some interaction of type complaint dated on or
--   before D (unresolved complaints).
-- grain: one row
-- params: as_of
-- columns: has_cost, dataset_margin, has_due_dates, has_categories,
--   max_categories, has_interactions, has_complaints
WITH lines_12m AS (
    SELECT customer_id, amount, cost, category, due_date
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE)
      AND date_diff('day', order_date, CAST($as_of AS DATE)) < 365
),
line_stats AS (
    SELECT
        COUNT(cost) > 0 AS has_cost,
        CAST(SUM(CASE WHEN cost IS NOT NULL THEN amount - cost END) AS DOUBLE)
            / NULLIF(CAST(SUM(CASE WHEN cost IS NOT NULL THEN amount END) AS DOUBLE), 0) AS dataset_margin,
        COUNT(CASE WHEN amount > 0 THEN due_date END) > 0 AS has_due_dates,
        COUNT(CASE WHEN amount > 0 THEN category END) > 0 AS has_categories
    FROM lines_12m
),
breadth AS (
    SELECT MAX(categories) AS max_categories
    FROM (
        SELECT customer_id, COUNT(DISTINCT category) AS categories
        FROM lines_12m
        WHERE amount > 0 AND category IS NOT NULL
        GROUP BY customer_id
    ) AS per_customer
),
contacts AS (
    SELECT
        COUNT(*) > 0 AS has_interactions,
        SUM(CASE WHEN type = 'complaint' THEN 1 ELSE 0 END) > 0 AS has_complaints
    FROM stg_interactions
    WHERE date <= CAST($as_of AS DATE)
)
SELECT
    l.has_cost,
    l.dataset_margin,
    l.has_due_dates,
    l.has_categories,
    b.max_categories,
    c.has_interactions,
    COALESCE(c.has_complaints, FALSE) AS has_complaints
FROM line_stats AS l
CROSS JOIN breadth AS b
CROSS JOIN contacts AS c
