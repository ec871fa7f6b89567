-- name: datasets_without_orders
-- purpose: Datasets whose orders were never stored: they have lines with
--   amount > 0 but no row in orders (a database made before the orders table
--   existed). crmflow.db.Database fills them in on open.
-- grain: one row per such dataset
-- params: none
-- columns: dataset_id
SELECT d.dataset_id
FROM datasets AS d
WHERE NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.dataset_id = d.dataset_id)
  AND EXISTS (SELECT 1 FROM transactions AS t WHERE t.dataset_id = d.dataset_id AND t.amount > 0)
ORDER BY d.dataset_id
