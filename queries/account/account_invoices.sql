-- name: account_invoices
-- purpose: One customer's invoices as they looked at D, for the payments row
--   of the account timeline. An invoice is an order_id (else a single line)
--   of lines with amount > 0 and a due_date, ordered on or before D; its due
--   date is the earliest line's and it is paid on the latest line's paid_date
--   (unpaid while any line has none) -- the definition of churn_payments.
--   paid_date is NULL when unpaid at D (no paid date, or one after D).
--   status: on_time (paid on or before the due date), late (paid after it),
--   overdue (unpaid at D and due before D), open (unpaid, due on D or later).
--   days_late = (paid date, or D when unpaid) - due date; negative when paid
--   early; NULL for open invoices.
-- grain: one row per invoice of the customer
-- params: customer_id, as_of
-- columns: invoice_key, order_date, due_date, paid_date, amount, status, days_late
WITH invoices AS (
    SELECT
        CASE WHEN order_id IS NULL THEN 'row:' || CAST(row_number AS VARCHAR)
             ELSE 'id:' || order_id END AS invoice_key,
        MIN(order_date) AS order_date,
        MIN(due_date) AS due_date,
        CASE WHEN COUNT(paid_date) < COUNT(*) THEN NULL ELSE MAX(paid_date) END AS paid_date,
        SUM(amount) AS amount
    FROM stg_transactions
    WHERE customer_id = $customer_id
        AND amount > 0 AND due_date IS NOT NULL AND order_date <= CAST($as_of AS DATE)
    GROUP BY 1
),
at_d AS (
    SELECT
        invoice_key,
        order_date,
        due_date,
        CASE WHEN paid_date > CAST($as_of AS DATE) THEN NULL ELSE paid_date END AS paid_date,
        amount
    FROM invoices
),
final AS (
    SELECT
        invoice_key,
        order_date,
        due_date,
        paid_date,
        amount,
        CASE WHEN paid_date IS NOT NULL AND paid_date <= due_date THEN 'on_time'
             WHEN paid_date IS NOT NULL THEN 'late'
             WHEN due_date < CAST($as_of AS DATE) THEN 'overdue'
             ELSE 'open' END AS status,
        CASE WHEN paid_date IS NOT NULL THEN date_diff('day', due_date, paid_date)
             WHEN due_date < CAST($as_of AS DATE) THEN date_diff('day', due_date, CAST($as_of AS DATE))
        END AS days_late
    FROM at_d
)
SELECT * FROM final
ORDER BY due_date, invoice_key
