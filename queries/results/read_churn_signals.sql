-- name: read_churn_signals
-- purpose: The stored rows of `churn_signals` (store_churn_signals) for one dataset and
--   definitions key, in the order `churn_signals` returns them.
-- grain: one row per customer with an order on or before as_of who is not lost at as_of
-- params: target_id, defs_key
-- columns: customer_id, stage, orders, order_days, days_since_last_order, median_gap_days, overdue_ratio, orders_recent, orders_previous, revenue_recent, revenue_previous, has_interactions, complaints, unresolved_complaints, last_unresolved_date, contacts_recent, contacts_previous, has_payment_terms, invoices_due, invoices_late, invoices_unpaid, mean_days_late, max_days_late, owner
SELECT customer_id, stage, orders, order_days, days_since_last_order, median_gap_days, overdue_ratio, orders_recent, orders_previous, revenue_recent, revenue_previous, has_interactions, complaints, unresolved_complaints, last_unresolved_date, contacts_recent, contacts_previous, has_payment_terms, invoices_due, invoices_late, invoices_unpaid, mean_days_late, max_days_late, owner
FROM result_churn_signals
WHERE dataset_id = $target_id AND defs_key = $defs_key
ORDER BY customer_id
