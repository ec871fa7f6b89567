-- name: churn_payments
-- purpose: Payment punctuality as it looked at D. An invoice is an order_id
--   (else a single line) of a customer, from its lines with amount > 0 and a
--   due_date, ordered on or before D; its due date is the earliest line's, and
--   it is paid on the latest line's paid_date (unpaid while any line has none).
--   Invoices due in the payment window (D - payment_window_days, D) count
--   (churn warnings use 365 days: the last 12 months). An invoice is late when
--   it was paid after its due date, or was still unpaid at D (no paid_date, or
--   one after D) although due before D; an invoice due on D or later that is
--   not paid yet is not late. days late = (paid date, or D if unpaid at D) -
--   due date, for late invoices.
-- grain: one row per customer with an invoice due in the payment window
-- params: as_of, payment_window_days
-- columns: customer_id, invoices_due, invoices_late, invoices_unpaid, mean_days_late, max_days_late
WITH invoices AS (
    SELECT
        customer_id,
        CASE WHEN order_id IS NULL THEN 'row:' || CAST(row_number AS VARCHAR)
             ELSE 'id:' || order_id END AS invoice_key,
        MIN(due_date) AS due_date,
        CASE WHEN COUNT(paid_date) < COUNT(*) THEN NULL ELSE MAX(paid_date) END AS paid_date
    FROM stg_transactions
    WHERE amount > 0 AND due_date IS NOT NULL AND order_date <= CAST($as_of AS DATE)
    GROUP BY 1, 2
),
due AS (
    SELECT
        customer_id,
        due_date,
        CASE WHEN paid_date IS NULL OR paid_date > CAST($as_of AS DATE) THEN NULL
             ELSE paid_date END AS paid_by_as_of
    FROM invoices
    WHERE due_date < CAST($as_of AS DATE)
        AND date_diff('day', due_date, CAST($as_of AS DATE)) < $payment_window_days
),
graded AS (
    SELECT
        customer_id,
        paid_by_as_of IS NULL AS unpaid,
        CASE WHEN paid_by_as_of IS NULL OR paid_by_as_of > due_date
             THEN date_diff('day', due_date, COALESCE(paid_by_as_of, CAST($as_of AS DATE))) END AS days_late
    FROM due
)
SELECT
    customer_id,
    COUNT(*) AS invoices_due,
    COUNT(days_late) AS invoices_late,
    CAST(SUM(CASE WHEN unpaid THEN 1 ELSE 0 END) AS BIGINT) AS invoices_unpaid,
    CAST(AVG(days_late) AS DOUBLE) AS mean_days_late,
    MAX(days_late) AS max_days_late
FROM graded
GROUP BY customer_id
ORDER BY customer_id
