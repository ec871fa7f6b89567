-- name: priced_lines
-- purpose: How many lines of the (filtered) dataset with amount > 0 carry a
--   discount or a list price (transaction_prices, stored at ingest): whether
--   the price-sensitivity measure can be shown (crmflow/loyalty.py availability;
--   the lines loyalty_prices reads).
-- grain: one row
-- params: none
-- columns: lines
SELECT COUNT(*) AS lines
FROM stg_transactions AS t
JOIN transaction_prices AS p
    ON p.dataset_id = getvariable('dataset_id') AND p.row_number = t.row_number
WHERE t.amount > 0
