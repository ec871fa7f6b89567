-- name: parse_customers
-- purpose: Type and validate staged customer rows (view ingest_stage). Rejected:
--   missing customer id, and repeated ids (the first row of an id is kept).
--   Every field is trimmed once and typed once; the raw text of the row is only
--   built for rejected rows. A created_at out of range (before 1900-01-01 or more
--   than 365 days after today) is left empty and counted like an unreadable value.
--   With customer_id_float (the whole id column is whole numbers written as
--   floats, 12349.0) the zero fraction is dropped (12349).
-- grain: one row per staged row
-- params: created_at_format, decimal_comma, customer_id_float
-- columns: row_number, reject_reason, raw, customer_id, name, created_at, region, industry,
--   owner, tier, is_key_account, credit_limit, bad_optional
WITH texts AS (
    SELECT
        row_number,
        customer_id AS customer_id_raw,
        name AS name_raw,
        CASE WHEN $customer_id_float THEN regexp_replace(crm_text(customer_id), '\.0+$', '')
             ELSE crm_text(customer_id) END AS customer_id,
        crm_text(name) AS name,
        crm_text(created_at) AS created_at_text,
        crm_text(region) AS region,
        crm_text(industry) AS industry,
        crm_text(owner) AS owner,
        crm_text(tier) AS tier,
        crm_text(is_key_account) AS is_key_account_text,
        crm_bool(is_key_account) AS is_key_account,
        crm_text(credit_limit) AS credit_limit_text
    FROM ingest_stage
),
typed AS (
    SELECT
        *,
        crm_date(created_at_text, $created_at_format) AS created_at_read,
        crm_money(credit_limit_text, $decimal_comma) AS credit_limit,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY row_number) AS occurrence
    FROM texts
),
checked AS (
    SELECT
        *,
        CASE WHEN crm_date_ok(created_at_read) THEN created_at_read END AS created_at,
        CASE
            WHEN customer_id IS NULL THEN 'missing customer id'
            WHEN occurrence > 1 THEN 'repeated customer id (the first row is kept)'
        END AS reject_reason
    FROM typed
)
SELECT
    row_number,
    reject_reason,
    CASE WHEN reject_reason IS NOT NULL THEN
        'customer_id=' || COALESCE(customer_id_raw, '') || ' | name=' || COALESCE(name_raw, '')
    END AS raw,
    customer_id, name, created_at, region, industry, owner, tier, is_key_account, credit_limit,
    (CASE WHEN created_at_text IS NOT NULL AND created_at IS NULL THEN 1 ELSE 0 END
     + CASE WHEN is_key_account_text IS NOT NULL AND is_key_account IS NULL THEN 1 ELSE 0 END
     + CASE WHEN credit_limit IS NOT NULL OR credit_limit_text IS NULL THEN 0
            WHEN crm_number(credit_limit_text, $decimal_comma) IS NULL THEN 1 ELSE 0 END
    ) AS bad_optional
FROM checked
