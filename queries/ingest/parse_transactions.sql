-- name: parse_transactions
-- purpose: Type and validate staged transaction rows (the view ingest_stage, all
--   text, one column per field of the data contract). A row is rejected, with
--   its reason, when the customer id is missing, the order date is missing, not
--   a date or out of range (before 1900-01-01 or more than 365 days after today,
--   crm_date_ok), or the amount is missing, not a number or too large. Optional
--   fields that do not parse, or dates out of range, become NULL (counted as
--   warnings, not rejections).
--   cost is taken from cost, else amount - margin.
--   Cost: every field is typed once with its cheap cast (typed); the general
--   number rules run only on the amounts and costs that cast rejected
--   (numbers), and the checks for an empty text and the raw text of the row
--   only on rows that failed (CASE evaluates lazily), so a clean row costs one
--   cast per field.
-- grain: one row per staged row
-- params: order_date_format, due_date_format, paid_date_format, decimal_comma
-- columns: row_number, reject_reason, raw, customer_id, order_id, order_date, amount,
--   quantity, product, category, cost, channel, region, owner, due_date, paid_date, status,
--   bad_optional
WITH typed AS (
    SELECT
        row_number,
        customer_id AS customer_id_raw,
        order_date AS order_date_raw,
        amount AS amount_raw,
        quantity AS quantity_raw,
        cost AS cost_raw,
        due_date AS due_date_raw,
        paid_date AS paid_date_raw,
        crm_text(customer_id) AS customer_id,
        crm_text(order_id) AS order_id,
        crm_date(order_date, $order_date_format) AS order_date,
        crm_money_cast(amount, $decimal_comma) AS amount_cast,
        crm_number(quantity, $decimal_comma) AS quantity,
        crm_text(product) AS product,
        crm_text(category) AS category,
        crm_money_cast(cost, $decimal_comma) AS cost_cast,
        crm_money(margin, $decimal_comma) AS margin,
        crm_text(channel) AS channel,
        crm_text(region) AS region,
        crm_text(owner) AS owner,
        crm_date(due_date, $due_date_format) AS due_date_read,
        crm_date(paid_date, $paid_date_format) AS paid_date_read,
        crm_text(status) AS status
    FROM ingest_stage
),
numbers AS (
    SELECT
        *,
        CASE WHEN amount_cast IS NULL THEN crm_number_any(amount_raw, $decimal_comma) END AS amount_number,
        CASE WHEN cost_cast IS NULL THEN crm_number_any(cost_raw, $decimal_comma) END AS cost_number
    FROM typed
),
valued AS (
    SELECT
        *,
        -- TRY_CAST to DECIMAL(18, 4) is NULL for NaN, infinity and |value| >= 1e14
        COALESCE(amount_cast, TRY_CAST(amount_number AS DECIMAL(18, 4))) AS amount,
        COALESCE(cost_cast, TRY_CAST(cost_number AS DECIMAL(18, 4))) AS cost_given,
        -- a cost that is a number but too large is left empty (not replaced by amount - margin)
        COALESCE(cost_cast IS NULL AND isfinite(cost_number), FALSE) AS cost_too_large,
        CASE WHEN crm_date_ok(due_date_read) THEN due_date_read END AS due_date,
        CASE WHEN crm_date_ok(paid_date_read) THEN paid_date_read END AS paid_date
    FROM numbers
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing customer id'
            WHEN order_date IS NULL THEN
                CASE WHEN crm_text(order_date_raw) IS NULL THEN 'missing order date' ELSE 'order date is not a date' END
            WHEN NOT crm_date_ok(order_date) THEN 'order date is out of range'
            WHEN amount IS NOT NULL THEN NULL
            WHEN crm_text(amount_raw) IS NULL THEN 'missing amount'
            WHEN isfinite(amount_number) THEN 'amount is too large'
            ELSE 'amount is not a number'
        END AS reject_reason
    FROM valued
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
    order_date,
    amount,
    quantity,
    product,
    category,
    CASE
        WHEN cost_given IS NOT NULL THEN cost_given
        WHEN NOT cost_too_large AND abs(CAST(amount AS DECIMAL(19, 4)) - margin) < 1e14
            THEN CAST(CAST(amount AS DECIMAL(19, 4)) - margin AS DECIMAL(18, 4))
    END AS cost,
    channel,
    region,
    owner,
    due_date,
    paid_date,
    status,
    (CASE WHEN quantity IS NOT NULL THEN 0 WHEN crm_text(quantity_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN cost_given IS NOT NULL OR cost_too_large THEN 0 WHEN crm_text(cost_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN due_date IS NOT NULL THEN 0 WHEN crm_text(due_date_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN paid_date IS NOT NULL THEN 0 WHEN crm_text(paid_date_raw) IS NULL THEN 0 ELSE 1 END
    ) AS bad_optional
FROM checked
