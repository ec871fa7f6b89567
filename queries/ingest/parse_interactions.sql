-- name: parse_interactions
-- purpose: Type and validate staged interaction rows (view ingest_stage).
--   Rejected: missing customer id, missing or unparseable date, a date out of
--   range (before 1900-01-01 or more than 365 days after today), missing type.
--   Types are normalised to English words (投诉 -> complaint, 拜访 -> visit, ...).
--   Every field is trimmed once and typed once; the raw text of the row is only
--   built for rejected rows.
--   With customer_id_float (the whole id column is whole numbers written as
--   floats, 12349.0) the zero fraction is dropped (12349).
-- grain: one row per staged row
-- params: date_format, decimal_comma, customer_id_float
-- columns: row_number, reject_reason, raw, customer_id, date, type, resolved, satisfaction,
--   note, bad_optional
WITH texts AS (
    SELECT
        row_number,
        customer_id AS customer_id_raw,
        date AS date_raw,
        type AS type_raw,
        CASE WHEN $customer_id_float THEN regexp_replace(crm_text(customer_id), '\.0+$', '')
             ELSE crm_text(customer_id) END AS customer_id,
        crm_text(date) AS date_text,
        lower(crm_text(type)) AS type_text,
        crm_text(resolved) AS resolved_text,
        crm_bool(resolved) AS resolved,
        crm_text(satisfaction) AS satisfaction_text,
        crm_text(note) AS note
    FROM ingest_stage
),
typed AS (
    SELECT
        *,
        crm_date(date_text, $date_format) AS date_value,
        crm_number(satisfaction_text, $decimal_comma) AS satisfaction
    FROM texts
),
checked AS (
    SELECT
        *,
        CASE
            WHEN customer_id IS NULL THEN 'missing customer id'
            WHEN date_text IS NULL THEN 'missing date'
            WHEN date_value IS NULL THEN 'date is not a date'
            WHEN NOT crm_date_ok(date_value) THEN 'date is out of range'
            WHEN type_text IS NULL THEN 'missing interaction type'
        END AS reject_reason
    FROM typed
)
SELECT
    row_number,
    reject_reason,
    CASE WHEN reject_reason IS NOT NULL THEN
        'customer_id=' || COALESCE(customer_id_raw, '') || ' | date=' || COALESCE(date_raw, '')
            || ' | type=' || COALESCE(type_raw, '')
    END AS raw,
    customer_id,
    date_value AS date,
    CASE
        WHEN type_text IN ('complaint', 'complaints', '投诉', '客诉', '抱怨') THEN 'complaint'
        WHEN type_text IN ('visit', 'visits', '拜访', '走访', '上门') THEN 'visit'
        WHEN type_text IN ('call', 'phone', 'phone call', 'calls', '电话', '致电', '来电') THEN 'call'
        WHEN type_text IN ('email', 'e-mail', 'mail', '邮件', '电子邮件') THEN 'email'
        WHEN type_text IN ('meeting', 'meetings', '会议', '会面', '面谈') THEN 'meeting'
        ELSE type_text
    END AS type,
    resolved,
    satisfaction,
    note,
    (CASE WHEN resolved_text IS NOT NULL AND resolved IS NULL THEN 1 ELSE 0 END
     + CASE WHEN satisfaction_text IS NOT NULL AND satisfaction IS NULL THEN 1 ELSE 0 END
    ) AS bad_optional
FROM checked
