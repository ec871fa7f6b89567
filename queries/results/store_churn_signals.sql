-- name: store_churn_signals
-- purpose: Store the rows of `churn_signals` for one dataset (the staging views read
--   it) and one definitions key: the stored result its readers take instead
--   of running `churn_signals` again (crmflow.results). Run by the writing process right
--   after the dataset is stored; any engine that can run `churn_signals` can fill it.
-- grain: one row per customer with an order on or before as_of who is not lost at as_of
-- params: target_id, defs_key, dates, lost_after_days, loyal_orders, loyal_window_days, as_of, window_days, complaint_pattern, payment_window_days
-- uses: churn_signals
-- columns: none (inserts into result_churn_signals)
INSERT INTO result_churn_signals
SELECT $target_id AS dataset_id, $defs_key AS defs_key, customer_id, stage, orders, order_days, days_since_last_order, median_gap_days, overdue_ratio, orders_recent, orders_previous, revenue_recent, revenue_previous, has_interactions, complaints, unresolved_complaints, last_unresolved_date, contacts_recent, contacts_previous, has_payment_terms, invoices_due, invoices_late, invoices_unpaid, mean_days_late, max_days_late, owner
FROM churn_signals
