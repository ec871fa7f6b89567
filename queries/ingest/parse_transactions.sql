-- name: parse_transactions
-- purpose: Type and validate staged transaction rows (the view ingest_stage, all
--   text, one column per field of the data contract). A row is rejected, with
--   its reason, when the customer id is missing, the order date is missing, not
--   a date or out of range (before 1900-01-01 or more than 365 days after today,
--   crm_date_ok), or the amount is missing, not a number or too large. Optional
--   fields that do not parse, or dates out of range, become NULL (counted as
--   warnings, not rejections).
--   cost is taken from cost, else amount - margin.
--   With derive_amount (no amount column, but quantity and unit price) the
--   amount is quantity × unit price, exact (DECIMAL, rounded to 4 places), and a
--   row whose quantity or unit price is missing or not a number is rejected
--   with that reason.
--   Ids: with customer_id_float / order_id_float (the whole column is whole
--   numbers written as floats, 12349.0) the zero fraction is dropped (12349).
--   Cancelled lines: a status that says cancelled / canceled / cancellation /
--   void(ed) / 取消 / 作废 / 撤销 / 撤单 / 交易关闭 (a Taobao order closed unpaid or
--   fully refunded) — and not "requested", "pending", "partial", "not", 申请,
--   待, 未, 部分 or an ongoing "…中" — is rejected as 'cancelled line (status)': neither
--   an order nor revenue, counted and listed. Returns and refunds are not
--   cancellations (their negative amounts count in revenue).
--   Cost: every field is typed once with its cheap cast (typed); the general
--   number rules run only on the amounts and costs that cast rejected
--   (numbers), and the checks for an empty text and the raw text of the row
--   only on rows that failed (CASE evaluates lazily), so a clean row costs one
--   cast per field.
-- grain: one row per staged row
-- params: order_date_format, due_date_format, paid_date_format, decimal_comma, derive_amount,
--   customer_id_float, order_id_float
-- columns: row_number, reject_reason, raw, customer_id, order_id, order_date, amount,
--   quantity, product, category, cost, channel, region, owner, due_date, paid_date, status,
--   discount, list_price, bad_optional
WITH typed AS (
    SELECT
        row_number,
        customer_id AS customer_id_raw,
        order_date AS order_date_raw,
        amount AS amount_raw,
        quantity AS quantity_raw,
        unit_price AS unit_price_raw,
        cost AS cost_raw,
        due_date AS due_date_raw,
        paid_date AS paid_date_raw,
        CASE WHEN $customer_id_float THEN regexp_replace(crm_text(customer_id), '\.0+$', '')
             ELSE crm_text(customer_id) END AS customer_id,
        CASE WHEN $order_id_float THEN regexp_replace(crm_text(order_id), '\.0+$', '')
             ELSE crm_text(order_id) END AS order_id,
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
        crm_text(status) AS status,
        crm_money(discount, $decimal_comma) AS discount,
        crm_money(list_price, $decimal_comma) AS list_price,
        CASE WHEN $derive_amount THEN crm_money(quantity, $decimal_comma) END AS quantity_money,
        CASE WHEN $derive_amount THEN crm_money(unit_price, $decimal_comma) END AS unit_price_money
    FROM ingest_stage
),
numbers AS (
    SELECT
        *,
        CASE WHEN amount_cast IS NULL AND NOT $derive_amount THEN crm_number_any(amount_raw, $decimal_comma) END
            AS amount_number,
        CASE WHEN cost_cast IS NULL THEN crm_number_any(cost_raw, $decimal_comma) END AS cost_number
    FROM typed
),
valued AS (
    SELECT
        *,
        -- TRY_CAST to DECIMAL(18, 4) is NULL for NaN, infinity and |value| >= 1e14
        CASE WHEN $derive_amount THEN TRY_CAST(quantity_money * unit_price_money AS DECIMAL(18, 4))
             ELSE COALESCE(amount_cast, TRY_CAST(amount_number AS DECIMAL(18, 4)))
        END AS amount,
        status IS NOT NULL
            AND (regexp_matches(lower(status),
                     '(^|[^a-z])(cancell?ed|cancell?ation|voided|void)([^a-z]|$)|^cancel$|取消|作废|撤销|撤单|交易关闭')
                 AND NOT regexp_matches(lower(status),
                     '(^|[^a-z])(not|request|requested|pending|partial|partially)([^a-z]|$)|申请|待|未|部分|中$'))
            AS cancelled,
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
            WHEN cancelled THEN 'cancelled line (status)'
            WHEN customer_id IS NULL THEN 'missing customer id'
            WHEN order_date IS NULL THEN
                CASE WHEN crm_text(order_date_raw) IS NULL THEN 'missing order date' ELSE 'order date is not a date' END
            WHEN NOT crm_date_ok(order_date) THEN 'order date is out of range'
            WHEN amount IS NOT NULL THEN NULL
            WHEN $derive_amount THEN
                CASE
                    WHEN crm_text(quantity_raw) IS NULL THEN 'missing quantity'
                    WHEN quantity_money IS NULL THEN 'quantity is not a number'
                    WHEN crm_text(unit_price_raw) IS NULL THEN 'missing unit price'
                    WHEN unit_price_money IS NULL THEN 'unit price is not a number'
                    ELSE 'amount is too large'
                END
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
                  CASE WHEN NOT $derive_amount THEN 'amount=' || COALESCE(amount_raw, '') END,
                  CASE WHEN $derive_amount THEN 'quantity=' || COALESCE(quantity_raw, '') END,
                  CASE WHEN $derive_amount THEN 'unit_price=' || COALESCE(unit_price_raw, '') END,
                  'status=' || status)
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
    discount,
    list_price,
    (CASE WHEN quantity IS NOT NULL OR $derive_amount THEN 0 WHEN crm_text(quantity_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN cost_given IS NOT NULL OR cost_too_large THEN 0 WHEN crm_text(cost_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN due_date IS NOT NULL THEN 0 WHEN crm_text(due_date_raw) IS NULL THEN 0 ELSE 1 END
     + CASE WHEN paid_date IS NOT NULL THEN 0 WHEN crm_text(paid_date_raw) IS NULL THEN 0 ELSE 1 END
    ) AS bad_optional
FROM checked
