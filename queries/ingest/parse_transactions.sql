-- name: parse_transactions
-- purpose: Type and validate staged transaction rows (the view ingest_stage, all
--   text, one column per field of the data contract). A row is rejected, with
--   its reason, when the customer id is missing, the order date is missing or
--   not a date, or the amount is missing or not a number. Optional fields that
--   do not parse become NULL (counted as warnings, not rejections).
--   cost is taken from cost, else amount - margin.
-- grain: one row per staged row
-- params: order_date_format, due_date_format, paid_date_format, decimal_comma
-- columns: row_number, reject_reason, raw, customer_id, order_id, order_date, amount,
--   quantity, product, category, cost, channel, region, owner, due_date, paid_date, status,
--   bad_optional
WITH typed AS (
    SELECT
        row_number,
        crm_text(customer_id) AS customer_id,
        crm_text(order_id) AS order_id,
        crm_date(order_date, $order_date_format) AS order_date_value,
        crm_text(order_date) AS order_date_text,
        crm_number(amount, $decimal_comma) AS amount_value,
        crm_text(amount) AS amount_text,
        crm_number(quantity, $decimal_comma) AS quantity,
        crm_text(product) AS product,
        crm_text(category) AS category,
        COALESCE(crm_number(cost, $decimal_comma),
                 crm_number(amount, $decimal_comma) - crm_number(margin, $decimal_comma)) AS cost_value,
        crm_text(channel) AS channel,
        crm_text(region) AS region,
        crm_text(owner) AS owner,
        crm_date(due_date, $due_date_format) AS due_date,
        crm_date(paid_date, $paid_date_format) AS paid_date,
        crm_text(status) AS status,
        (CASE WHEN crm_text(quantity) IS NOT NULL AND crm_number(quantity, $decimal_comma) IS NULL THEN 1 ELSE 0 END
         + CASE WHEN crm_text(cost) IS NOT NULL AND crm_number(cost, $decimal_comma) IS NULL THEN 1 ELSE 0 END
         + CASE WHEN crm_text(due_date) IS NOT NULL AND crm_date(due_date, $due_date_format) IS NULL THEN 1 ELSE 0 END
         + CASE WHEN crm_text(paid_date) IS NOT NULL AND crm_date(paid_date, $paid_date_format) IS NULL THEN 1 ELSE 0 END
        ) AS bad_optional,
        concat_ws(' | ', 'customer_id=' || COALESCE(customer_id, ''), 'order_date=' || COALESCE(order_date, ''),
                  'amount=' || COALESCE(amount, '')) AS raw
    FROM ingest_stage
)
SELECT
    row_number,
    CASE
        WHEN customer_id IS NULL THEN 'missing customer id'
        WHEN order_date_text IS NULL THEN 'missing order date'
        WHEN order_date_value IS NULL THEN 'order date is not a date'
        WHEN amount_text IS NULL THEN 'missing amount'
        WHEN amount_value IS NULL THEN 'amount is not a number'
        WHEN abs(amount_value) >= 1e14 THEN 'amount is too large'
    END AS reject_reason,
    raw,
    customer_id,
    order_id,
    order_date_value AS order_date,
    CAST(CASE WHEN abs(amount_value) < 1e14 THEN amount_value END AS DECIMAL(18, 4)) AS amount,
    quantity,
    product,
    category,
    CAST(CASE WHEN abs(cost_value) < 1e14 THEN cost_value END AS DECIMAL(18, 4)) AS cost,
    channel,
    region,
    owner,
    due_date,
    paid_date,
    status,
    bad_optional
FROM typed
