-- name: macros
-- kind: script
-- purpose: Parsing helpers for ingestion, created as temporary macros on the
--   ingesting cursor (DuckDB-specific: ingestion is the local engine's job; the
--   analytic queries stay portable). Text in, typed value or NULL out.
--   Each typed macro tries one cheap cast first (TRY_CAST / strptime with the
--   one detected format), which reads the plain values that make up almost
--   every real column, and runs the general, regex-based rules only on the
--   values that cast rejects (COALESCE and CASE evaluate lazily per row), so a
--   million clean rows never reach a regex.
--   crm_text(v): trimmed text, NULL when empty (TRIM only runs on values that
--     start or end with a space or hold non-ASCII characters).
--   crm_date(v, fmt): fmt is 'excel' (serial day number), or a strptime format
--     applied after normalising separators ('年'/'月' and . or / to -, time part dropped);
--     '%d/%m/%Y'-style formats see the separators normalised to '/'.
--   crm_number(v, decimal_comma): finite numbers only (no NaN/inf) as DOUBLE; currency symbols, spaces and
--     thousands separators (',' or '.', space, no-break space U+00A0 / U+202F, apostrophe) removed;
--     (12.50) and 12.50- are negative; NULL when not a number.
--   crm_number_any(v, decimal_comma): crm_number before the finite check (NaN/inf pass through).
--   crm_money(v, decimal_comma): the same as an exact DECIMAL(18, 4) (the text is cast straight to
--     the decimal when it can be, crm_money_cast); NULL when not a number or when |value| >= 1e14.
--   crm_bool(v): yes/no in English and Chinese, 1/0, true/false.
-- grain: n/a
-- params: none
-- columns: none
CREATE OR REPLACE TEMP MACRO crm_text(v) AS
    CASE WHEN CAST(v AS VARCHAR) LIKE ' %' OR CAST(v AS VARCHAR) LIKE '% '
              OR strlen(CAST(v AS VARCHAR)) <> length(CAST(v AS VARCHAR))
         THEN NULLIF(TRIM(CAST(v AS VARCHAR)), '')
         ELSE NULLIF(CAST(v AS VARCHAR), '')
    END;

CREATE OR REPLACE TEMP MACRO crm_date_text(v) AS
    regexp_replace(
        regexp_replace(replace(replace(replace(TRIM(v), '年', '-'), '月', '-'), '日', ''),
                       '[T ].*$', ''),
        '\s+', '', 'g');

CREATE OR REPLACE TEMP MACRO crm_date_any(v, fmt) AS
    CASE
        WHEN crm_text(v) IS NULL THEN NULL
        WHEN fmt = '%Y-%m-%d' AND TRY_CAST(v AS DATE) IS NOT NULL THEN TRY_CAST(v AS DATE)
        WHEN fmt = 'excel' THEN
            CASE WHEN TRY_CAST(TRIM(v) AS DOUBLE) BETWEEN 1 AND 2958465
                 THEN CAST(DATE '1899-12-30' + CAST(floor(TRY_CAST(TRIM(v) AS DOUBLE)) AS INTEGER) AS DATE)
            END
        WHEN fmt IN ('%d/%m/%Y', '%m/%d/%Y', '%d/%m/%y', '%m/%d/%y') THEN
            CAST(try_strptime(regexp_replace(crm_date_text(v), '[-.]', '/', 'g'), fmt) AS DATE)
        ELSE
            CAST(try_strptime(regexp_replace(crm_date_text(v), '[/.]', '-', 'g'), fmt) AS DATE)
    END;

CREATE OR REPLACE TEMP MACRO crm_date(v, fmt) AS
    COALESCE(
        CASE WHEN fmt = '%Y-%m-%d' THEN TRY_CAST(v AS DATE)
             WHEN fmt <> 'excel' THEN CAST(try_strptime(v, fmt) AS DATE)
        END,
        crm_date_any(v, fmt));

CREATE OR REPLACE TEMP MACRO crm_number_text(v, decimal_comma) AS
    CASE WHEN decimal_comma
         THEN replace(regexp_replace(v, '[.\s''’\x{00A0}\x{202F}]', '', 'g'), ',', '.')
         ELSE regexp_replace(v, '[,\s''’\x{00A0}\x{202F}]', '', 'g')
    END;

-- the general rules (a plain DOUBLE cast first, written once so that the optimiser's
-- common-subexpression pass never pulls the regex branches out of their lazy place)
CREATE OR REPLACE TEMP MACRO crm_number_any(v, decimal_comma) AS
    COALESCE(
        CASE WHEN NOT decimal_comma THEN TRY_CAST(v AS DOUBLE) END,
        CASE
            WHEN crm_text(v) IS NULL THEN NULL
            WHEN regexp_full_match(TRIM(v), '^\(.*\)$') THEN
                -1 * TRY_CAST(crm_number_text(regexp_replace(TRIM(v), '[()¥￥$€£元RMBUSDCNY]', '', 'g'), decimal_comma) AS DOUBLE)
            WHEN regexp_full_match(TRIM(v), '^[^-]*[0-9]-$') THEN
                -1 * TRY_CAST(crm_number_text(regexp_replace(TRIM(v), '[-¥￥$€£元RMBUSDCNY]', '', 'g'), decimal_comma) AS DOUBLE)
            ELSE TRY_CAST(crm_number_text(regexp_replace(TRIM(v), '[¥￥$€£元RMBUSDCNY+]', '', 'g'), decimal_comma) AS DOUBLE)
        END);

CREATE OR REPLACE TEMP MACRO crm_number(v, decimal_comma) AS
    CASE WHEN isfinite(crm_number_any(v, decimal_comma)) THEN crm_number_any(v, decimal_comma) END;

-- the cheap half of crm_money: a plain decimal text cast straight to DECIMAL(18, 4);
-- a decimal comma is only cast directly when there is no '.' (which would be a thousands separator)
CREATE OR REPLACE TEMP MACRO crm_money_cast(v, decimal_comma) AS
    CASE WHEN NOT decimal_comma THEN TRY_CAST(v AS DECIMAL(18, 4))
         WHEN NOT contains(v, '.') THEN TRY_CAST(replace(v, ',', '.') AS DECIMAL(18, 4))
    END;

-- TRY_CAST to DECIMAL(18, 4) is NULL for NaN, infinity and |value| >= 1e14
CREATE OR REPLACE TEMP MACRO crm_money(v, decimal_comma) AS
    COALESCE(crm_money_cast(v, decimal_comma), TRY_CAST(crm_number_any(v, decimal_comma) AS DECIMAL(18, 4)));

CREATE OR REPLACE TEMP MACRO crm_bool(v) AS
    CASE
        WHEN lower(TRIM(CAST(v AS VARCHAR))) IN ('1', '1.0', 'true', 't', 'yes', 'y', 'x', '是', '对', '已解决', '解决', 'resolved', 'key', 'ka', '√', '✓') THEN TRUE
        WHEN lower(TRIM(CAST(v AS VARCHAR))) IN ('0', '0.0', 'false', 'f', 'no', 'n', '否', '不是', '未解决', 'open', 'unresolved', '') THEN FALSE
    END
