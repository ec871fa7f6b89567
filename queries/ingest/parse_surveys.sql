-- name: parse_surveys
-- purpose: Type and validate staged Servqual survey rows (view ingest_stage, one
--   row per response × item; a wide file is melted first, crmflow.survey_ingest).
--   Rejected: missing or unparseable date, a date out of range, missing item,
--   a missing or non-numeric expectation or perception score, a score outside
--   scale_min..scale_max, a dimension that is none of the five, and an item with no
--   dimension column whose name is not one of the 22 standard Servqual items
--   (Q1-Q4 tangibles, Q5-Q9 reliability, Q10-Q13 responsiveness, Q14-Q17
--   assurance, Q18-Q22 empathy; Parasuraman, Zeithaml & Berry 1988) nor
--   names a dimension (reliability_2, 可靠性2).
--   Dimensions are normalised to English words (可靠性 -> reliability, ...).
--   The customer id is optional (anonymous responses are kept).
-- grain: one row per staged row
-- params: date_format, decimal_comma, customer_id_float, scale_min, scale_max
-- columns: row_number, reject_reason, raw, response_id, customer_id, date, item, dimension,
--   expectation, perception, scale_max, bad_optional
WITH texts AS (
    SELECT
        row_number,
        date AS date_raw,
        item AS item_raw,
        expectation AS expectation_raw,
        perception AS perception_raw,
        CASE WHEN $customer_id_float THEN regexp_replace(crm_text(customer_id), '\.0+$', '')
             ELSE crm_text(customer_id) END AS customer_id,
        crm_text(response_id) AS response_id,
        crm_text(date) AS date_text,
        crm_text(item) AS item,
        lower(crm_text(item)) AS item_text,
        lower(crm_text(dimension)) AS dimension_text,
        crm_text(expectation) AS expectation_text,
        crm_text(perception) AS perception_text
    FROM ingest_stage
),
typed AS (
    SELECT
        *,
        crm_date(date_text, $date_format) AS date_value,
        crm_number(expectation_text, $decimal_comma) AS expectation,
        crm_number(perception_text, $decimal_comma) AS perception,
        CASE
            WHEN dimension_text IN ('tangibles', 'tangible', 'tangibility', '有形性', '有形', '有形因素', '有形资产')
                THEN 'tangibles'
            WHEN dimension_text IN ('reliability', 'reliable', '可靠性', '可靠', '可靠度', '可信赖感') THEN 'reliability'
            WHEN dimension_text IN ('responsiveness', 'responsive', '响应性', '响应', '反应性', '反应', '责任感')
                THEN 'responsiveness'
            WHEN dimension_text IN ('assurance', '保证性', '保证', '服务保证') THEN 'assurance'
            WHEN dimension_text IN ('empathy', '移情性', '移情', '关怀性', '感情') THEN 'empathy'
        END AS dimension_named,
        CASE
            WHEN regexp_matches(item_text, '^(q|item|question|题|问题|第)?\s*[0-9]{1,2}\s*(题)?$')
                THEN TRY_CAST(regexp_extract(item_text, '([0-9]{1,2})', 1) AS INTEGER)
        END AS item_number,
        CASE
            WHEN item_text LIKE '%tangib%' OR item_text LIKE '%有形%' THEN 'tangibles'
            WHEN item_text LIKE '%reliab%' OR item_text LIKE '%可靠%' THEN 'reliability'
            WHEN item_text LIKE '%respons%' OR item_text LIKE '%响应%' THEN 'responsiveness'
            WHEN item_text LIKE '%assur%' OR item_text LIKE '%保证%' THEN 'assurance'
            WHEN item_text LIKE '%empath%' OR item_text LIKE '%移情%' THEN 'empathy'
        END AS dimension_in_item
    FROM texts
),
dimensioned AS (
    SELECT
        *,
        COALESCE(
            dimension_named,
            CASE WHEN dimension_text IS NULL THEN dimension_in_item END,
            CASE WHEN dimension_text IS NULL THEN
                CASE
                    WHEN item_number BETWEEN 1 AND 4 THEN 'tangibles'
                    WHEN item_number BETWEEN 5 AND 9 THEN 'reliability'
                    WHEN item_number BETWEEN 10 AND 13 THEN 'responsiveness'
                    WHEN item_number BETWEEN 14 AND 17 THEN 'assurance'
                    WHEN item_number BETWEEN 18 AND 22 THEN 'empathy'
                END
            END
        ) AS dimension
    FROM typed
),
checked AS (
    SELECT
        *,
        CASE
            WHEN date_text IS NULL THEN 'missing date'
            WHEN date_value IS NULL THEN 'date is not a date'
            WHEN NOT crm_date_ok(date_value) THEN 'date is out of range'
            WHEN item IS NULL THEN 'missing survey item'
            WHEN expectation_text IS NULL THEN 'missing expectation score'
            WHEN expectation IS NULL THEN 'expectation score is not a number'
            WHEN expectation < $scale_min OR expectation > $scale_max THEN 'expectation score is outside the scale'
            WHEN perception_text IS NULL THEN 'missing perception score'
            WHEN perception IS NULL THEN 'perception score is not a number'
            WHEN perception < $scale_min OR perception > $scale_max THEN 'perception score is outside the scale'
            WHEN dimension_text IS NOT NULL AND dimension_named IS NULL THEN 'not a Servqual dimension'
            WHEN dimension IS NULL THEN 'item has no Servqual dimension'
        END AS reject_reason
    FROM dimensioned
)
SELECT
    row_number,
    reject_reason,
    CASE WHEN reject_reason IS NOT NULL THEN
        'date=' || COALESCE(date_raw, '') || ' | item=' || COALESCE(item_raw, '')
            || ' | expectation=' || COALESCE(expectation_raw, '') || ' | perception=' || COALESCE(perception_raw, '')
    END AS raw,
    response_id,
    customer_id,
    date_value AS date,
    item,
    dimension,
    expectation,
    perception,
    CAST($scale_max AS INTEGER) AS scale_max,
    0 AS bad_optional
FROM checked
