-- name: churn_signals
-- purpose: Everything churn warnings need from the data, for each customer who
--   has an order on or before D and is not lost at D (stage first, repeat or
--   loyal under lost_after_days / loyal_orders / loyal_window_days; dates holds
--   the one date D, as_of is the same D): the buying rhythm (order_rhythm:
--   days since the last order, median gap, overdue_ratio), orders and revenue
--   in the recent vs the previous window (churn_order_trend), complaints
--   (churn_complaints), contact in the two windows (churn_contact) and payment
--   punctuality (churn_payments). has_interactions / has_payment_terms say
--   whether the data can tell complaints and contact / late payments at all
--   (some interaction dated on or before D; some order line with a due_date
--   ordered on or before D); without them those reasons are not evaluated.
--   owner = the customers table's owner, else the owner on the customer's most
--   recent transaction line (on or before D) that names one; NULL when none.
--   The model part and the rule turning all this into a probability of
--   leaving are in crmflow/churn.py: P0 = BG/NBD P(no order in the next h
--   days) = 1 - P(alive) * (1 - ((alpha + T) / (alpha + T + t))^(r + x)),
--   then logit(P) = offset[stage] + slope * logit(P0) + sum of bounded reason
--   weights * levels (overdue >= 2x the median gap; orders or revenue in the
--   recent window at most half the previous; unresolved complaints; contact
--   at most half; late payments), the terms learned from the dataset's own
--   past (D - h) around a fixed prior; risk score = round(100 * P).
-- grain: one row per customer with an order on or before as_of who is not lost at as_of
-- params: dates, lost_after_days, loyal_orders, loyal_window_days, as_of, window_days,
--   complaint_pattern, payment_window_days
-- uses: customer_stages, order_rhythm, churn_order_trend, churn_complaints, churn_contact,
--   churn_payments
-- columns: customer_id, stage, orders, order_days, days_since_last_order, median_gap_days,
--   overdue_ratio, orders_recent, orders_previous, revenue_recent, revenue_previous,
--   has_interactions, complaints, unresolved_complaints, last_unresolved_date,
--   contacts_recent, contacts_previous, has_payment_terms, invoices_due, invoices_late,
--   invoices_unpaid, mean_days_late, max_days_late, owner
WITH availability AS (
    SELECT
        (SELECT COUNT(*) FROM stg_interactions WHERE date <= CAST($as_of AS DATE)) > 0 AS has_interactions,
        (SELECT COUNT(*) FROM stg_transactions
         WHERE due_date IS NOT NULL AND order_date <= CAST($as_of AS DATE)) > 0 AS has_payment_terms
),
listed_owner AS (
    SELECT customer_id, NULLIF(TRIM(owner), '') AS owner
    FROM stg_customers
    WHERE NULLIF(TRIM(owner), '') IS NOT NULL
),
latest_owner AS (
    -- the owner on the most recent line naming one (ties on the day: the later
    -- row), for the customers the customers table gives no owner
    SELECT customer_id, arg_max(NULLIF(TRIM(owner), ''), (order_date, row_number)) AS owner
    FROM stg_transactions
    WHERE order_date <= CAST($as_of AS DATE) AND NULLIF(TRIM(owner), '') IS NOT NULL
      AND customer_id NOT IN (SELECT customer_id FROM listed_owner)
    GROUP BY customer_id
)
SELECT
    s.customer_id,
    s.stage,
    s.orders,
    r.order_days,
    s.days_since_last_order,
    r.median_gap_days,
    r.overdue_ratio,
    tr.orders_recent,
    tr.orders_previous,
    tr.revenue_recent,
    tr.revenue_previous,
    a.has_interactions,
    CASE WHEN a.has_interactions THEN COALESCE(c.complaints, 0) END AS complaints,
    CASE WHEN a.has_interactions THEN COALESCE(c.unresolved_complaints, 0) END AS unresolved_complaints,
    c.last_unresolved_date,
    CASE WHEN a.has_interactions THEN COALESCE(ct.contacts_recent, 0) END AS contacts_recent,
    CASE WHEN a.has_interactions THEN COALESCE(ct.contacts_previous, 0) END AS contacts_previous,
    a.has_payment_terms,
    CASE WHEN a.has_payment_terms THEN COALESCE(p.invoices_due, 0) END AS invoices_due,
    CASE WHEN a.has_payment_terms THEN COALESCE(p.invoices_late, 0) END AS invoices_late,
    CASE WHEN a.has_payment_terms THEN COALESCE(p.invoices_unpaid, 0) END AS invoices_unpaid,
    p.mean_days_late,
    p.max_days_late,
    COALESCE(lw.owner, lo.owner) AS owner
FROM customer_stages AS s
CROSS JOIN availability AS a
JOIN order_rhythm AS r ON r.customer_id = s.customer_id
JOIN churn_order_trend AS tr ON tr.customer_id = s.customer_id
LEFT JOIN churn_complaints AS c ON c.customer_id = s.customer_id
LEFT JOIN churn_contact AS ct ON ct.customer_id = s.customer_id
LEFT JOIN churn_payments AS p ON p.customer_id = s.customer_id
LEFT JOIN listed_owner AS lw ON lw.customer_id = s.customer_id
LEFT JOIN latest_owner AS lo ON lo.customer_id = s.customer_id
WHERE s.stage IN ('first', 'repeat', 'loyal')
ORDER BY s.customer_id
