-- name: stg_surveys
-- kind: view
-- purpose: The chosen dataset's Servqual survey answers (one row per response ×
--   item). The customer filters (crmflow.filters) keep the answers of the
--   customers they select; with no filter, anonymous answers (no customer id)
--   are kept too.
-- grain: one row per response × item
-- params: none
-- columns: row_number, response_id, customer_id, date, item, dimension, expectation, perception, scale_max
SELECT row_number, response_id, customer_id, date, item, dimension, expectation, perception, scale_max
FROM surveys
WHERE dataset_id = getvariable('dataset_id')
    AND in_customer_scope(customer_id)
