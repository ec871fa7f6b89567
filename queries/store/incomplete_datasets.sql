-- name: incomplete_datasets
-- purpose: Datasets whose derived tables were never written (a database made
--   before those tables existed): needs_orders when they have lines with
--   amount > 0 but no row in orders, needs_customers when they have lines but
--   no row in transaction_customers. crmflow.db.Database fills them in on open.
-- grain: one row per dataset missing a derived table
-- params: none
-- columns: dataset_id, needs_orders, needs_customers
WITH checked AS (
    SELECT
        d.dataset_id,
        NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.dataset_id = d.dataset_id)
            AND EXISTS (SELECT 1 FROM transactions AS t WHERE t.dataset_id = d.dataset_id AND t.amount > 0)
            AS needs_orders,
        NOT EXISTS (SELECT 1 FROM transaction_customers AS c WHERE c.dataset_id = d.dataset_id)
            AND EXISTS (SELECT 1 FROM transactions AS t WHERE t.dataset_id = d.dataset_id)
            AS needs_customers
    FROM datasets AS d
)
SELECT dataset_id, needs_orders, needs_customers
FROM checked
WHERE needs_orders OR needs_customers
ORDER BY dataset_id
