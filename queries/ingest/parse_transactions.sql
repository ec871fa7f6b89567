-- name: parse_transactions
-- purpose: Type and validate staged transaction rows (the view ingest_stage, all
--   text, one column per field of the data contract). A row is rejected, with
--   its reason, when the customer id is missing, the order date is missing or
--   not a date, or the amount is missing, not a number or too large. Optional
--   fields that do not parse become NULL (counted as warnings, not rejections).
--   cost is taken from cost, else amount - margin.
--   Every field is trimmed once and typed once (the CTEs below); the raw text
--   of the row is only built for rejected rows.
-- grain: one row per staged row
-- params: order_date_format, due_date_format, paid_date_format, decimal_comma
-- columns: row_number, reject_reason, raw, customer_id, order_id, order_date, amount,
--   quantity, product, category, cost, channel, region, owner, due_date, paid_date, status,
--   bad_optional
WITH texts AS (
    SELECT
        row_number,
        customer_id AS customer_id_raw,
        order_date AS order_date_raw,
        amount AS amount_raw,
        crm_text(customer_id) AS customer_id,
        crm_text(order_id) AS order_id,
        crm_text(order_date) AS order_date,
        crm_text(amount) AS amount,
        crm_text(quantity) AS quantity,
        crm_text(product) AS product,
        crm_text(category) AS category,
        crm_text(cost) AS cost,
        crm_text(margin) AS margin,
        crm_text(channel) AS channel,
        crm_text(region) AS region,
        crm_text(owner) AS owner,
        crm_text(due_date) AS due_date,
        crm_text(paid_date) AS paid_date,
        crm_text(status) AS status
    FROM ingest_stage
),
typed AS (
    SELECT
        *,
        crm_date(order_date, $order_date_format) AS order_date_value,
        crm_money(amount, $decimal_comma) AS amount_value,
        crm_number(quantity, $decimal_comma) AS quantity_value,
        crm_money(cost, $decimal_comma) AS cost_money,
        crm_money(margin, $decimal_comma) AS margin_value,
        crm_date(due_date, $due_date_format) AS due_date_value,
        crm_date(paid_date, $paid_date_format) AS paid_date_value
    FROM texts
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing customer id'
            WHEN order_date IS NULL THEN 'missing order date'
            WHEN order_date_value IS NULL THEN 'order date is not a date'
            WHEN amount IS NULL THEN 'missing amount'
            WHEN amount_value IS NOT NULL THEN NULL
            WHEN crm_number(amount, $decimal_comma) IS NULL THEN 'amount is not a number'
            ELSE 'amount is too large'
        END AS reject_reason,
        -- a cost that is a number but too large is left empty (not replaced by amount - margin)
        CASE WHEN cost_money IS NULL AND cost IS NOT NULL THEN crm_number(cost, $decimal_comma) IS NOT NULL
             ELSE FALSE
        END AS cost_too_large
    FROM typed
)
SELECT
    row_number,
    reject_reason,
    CASE WHEN reject_reason IS NOT NULL THEN
        concat_ws(' | ', 'customer_id=' || COALESCE(customer_id_raw, ''), 'order_date=' || COALESCE(order_date_raw, ''),
                  'amount=' || COALESCE(amount_raw, ''))
    END AS raw,
    customer_id,
    order_id,
    order_date_value AS order_date,
    amount_value AS amount,
    quantity_value AS quantity,
    product,
    category,
    CASE
        WHEN cost_money IS NOT NULL THEN cost_money
        WHEN NOT cost_too_large AND abs(CAST(amount_value AS DECIMAL(19, 4)) - margin_value) < 1e14
            THEN CAST(CAST(amount_value AS DECIMAL(19, 4)) - margin_value AS DECIMAL(18, 4))
    END AS cost,
    channel,
    region,
    owner,
    due_date_value AS due_date,
    paid_date_value AS paid_date,
    status,
    (CASE WHEN quantity IS NOT NULL AND quantity_value IS NULL THEN 1 ELSE 0 END
     + CASE WHEN cost IS NOT NULL AND cost_money IS NULL AND NOT cost_too_large THEN 1 ELSE 0 END
     + CASE WHEN due_date IS NOT NULL AND due_date_value IS NULL THEN 1 ELSE 0 END
     + CASE WHEN paid_date IS NOT NULL AND paid_date_value IS NULL THEN 1 ELSE 0 END
    ) AS bad_optional
FROM checked
