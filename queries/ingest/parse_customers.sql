-- name: parse_customers
-- purpose: Type and validate staged customer rows (view ingest_stage). Rejected:
--   missing customer id, and repeated ids (the first row of an id is kept).
-- grain: one row per staged row
-- params: created_at_format, decimal_comma
-- columns: row_number, reject_reason, raw, customer_id, name, created_at, region, industry,
--   owner, tier, is_key_account, credit_limit, bad_optional
WITH typed AS (
    SELECT
        row_number,
        crm_text(customer_id) AS customer_id,
        crm_text(name) AS name,
        crm_date(created_at, $created_at_format) AS created_at,
        crm_text(region) AS region,
        crm_text(industry) AS industry,
        crm_text(owner) AS owner,
        crm_text(tier) AS tier,
        crm_bool(is_key_account) AS is_key_account,
        crm_number(credit_limit, $decimal_comma) AS credit_limit,
        (CASE WHEN crm_text(created_at) IS NOT NULL AND crm_date(created_at, $created_at_format) IS NULL THEN 1 ELSE 0 END
         + CASE WHEN crm_text(is_key_account) IS NOT NULL AND crm_bool(is_key_account) IS NULL THEN 1 ELSE 0 END
         + CASE WHEN crm_text(credit_limit) IS NOT NULL AND crm_number(credit_limit, $decimal_comma) IS NULL THEN 1 ELSE 0 END
        ) AS bad_optional,
        'customer_id=' || COALESCE(customer_id, '') || ' | name=' || COALESCE(name, '') AS raw
    FROM ingest_stage
),
ranked AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY row_number) AS occurrence
    FROM typed
)
SELECT
    row_number,
    CASE
        WHEN customer_id IS NULL THEN 'missing customer id'
        WHEN occurrence > 1 THEN 'repeated customer id (the first row is kept)'
    END AS reject_reason,
    raw, customer_id, name, created_at, region, industry, owner, tier, is_key_account,
    CAST(CASE WHEN abs(credit_limit) < 1e14 THEN credit_limit END AS DECIMAL(18, 4)) AS credit_limit,
    bad_optional
FROM ranked
