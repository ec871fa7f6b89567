-- name: data_coverage
-- purpose: How many rows of the (filtered) dataset carry each optional column,
--   so a view shows what the data supports and says what to upload for the
--   rest: customers (rows of the customers table), created_at, is_key_account
--   (flagged accounts), interactions, complaints, cost, category, channel,
--   region, owner, due_date and paid_date (invoices), order_id.
-- grain: one row
-- params: none
-- columns: transactions, customers, created_at, key_accounts, interactions,
--   complaints, cost, category, channel, region, owner, due_date, paid_date, order_id
WITH t AS (
    SELECT
        COUNT(*) AS transactions,
        COUNT(cost) AS cost,
        COUNT(category) AS category,
        COUNT(channel) AS channel,
        COUNT(region) AS region,
        COUNT(owner) AS owner,
        COUNT(due_date) AS due_date,
        COUNT(paid_date) AS paid_date,
        COUNT(order_id) AS order_id
    FROM stg_transactions
),
c AS (
    SELECT
        COUNT(*) AS customers,
        COUNT(created_at) AS created_at,
        COUNT(CASE WHEN is_key_account THEN 1 END) AS key_accounts,
        COUNT(region) AS region,
        COUNT(owner) AS owner
    FROM stg_customers
),
i AS (
    SELECT
        COUNT(*) AS interactions,
        COUNT(CASE WHEN lower(type) LIKE '%complain%' OR type LIKE '%投诉%' THEN 1 END) AS complaints
    FROM stg_interactions
)
SELECT
    t.transactions, c.customers, c.created_at, c.key_accounts, i.interactions, i.complaints,
    t.cost, t.category, t.channel, t.region + c.region AS region, t.owner + c.owner AS owner,
    t.due_date, t.paid_date, t.order_id
FROM t CROSS JOIN c CROSS JOIN i
