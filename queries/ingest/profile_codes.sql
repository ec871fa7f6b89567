-- name: profile_codes
-- purpose: Profile one text column (the view profile_input(v)) for what
--   profile_values does not tell: whether its values are ids or codes rather
--   than money, and whether an id column is integers written as floats
--   (12349.0, as pandas writes an integer column with gaps). Counts are of
--   distinct non-empty values (n_rows counts the non-empty rows); like
--   profile_values, the layout tests run once per shape (digits 1-9 written as
--   9, 0 kept), so a million distinct ids with a few shapes cost a few regex
--   calls.
--   Counts: n_float_integral, whole numbers written with a zero fraction (12349.0, 7.00);
--   n_integer, plain whole numbers (12349); n_decimal, numbers with a non-zero
--   fraction (2.55, 1,5); n_code, letters and digits in one token that is not a
--   number with a currency code (85123A, SKU-001, C536379); n_number, values
--   that read as a number in either decimal convention.
-- grain: one row
-- params: none
-- columns: n_rows, n_values, n_float_integral, n_integer, n_decimal, n_code, n_number,
--   sample_value, sample_float, sample_code, sample_text
WITH vals AS (
    SELECT crm_text(v) AS t, COUNT(*) AS n_rows
    FROM profile_input
    WHERE crm_text(v) IS NOT NULL
    GROUP BY ALL
),
shaped AS (
    SELECT t, translate(t, '123456789', '999999999') AS shape FROM vals
),
shapes AS (
    SELECT shape, COUNT(*) AS n, MIN(t) AS sample FROM shaped GROUP BY shape
),
flags AS (
    SELECT
        shape,
        n,
        sample,
        regexp_full_match(shape, '[-+]?[09]+\.0+') AS is_float_integral,
        regexp_full_match(shape, '[-+]?[09]+') AS is_integer,
        regexp_matches(shape, '[0-9][.,][0-9]*9')
            AND NOT regexp_full_match(shape, '[-+]?[0-9]{1,3}(,[0-9]{3})+') AS is_decimal,
        regexp_full_match(shape, '[A-Za-z0-9_./#-]+')
            AND regexp_matches(shape, '[A-Za-z]') AND regexp_matches(shape, '[0-9]')
            AND NOT regexp_full_match(upper(shape),
                '[-+]?[0-9.,]+(USD|EUR|GBP|CNY|RMB|JPY)|(USD|EUR|GBP|CNY|RMB|JPY)[-+]?[0-9.,]+|[-+]?[0-9.]+E[-+]?[0-9]+')
            AS is_code,
        COALESCE(crm_number_any(shape, FALSE), crm_number_any(shape, TRUE)) IS NOT NULL AS is_number
    FROM shapes
)
SELECT
    (SELECT COALESCE(SUM(n_rows), 0) FROM vals) AS n_rows,
    COALESCE(SUM(n), 0) AS n_values,
    COALESCE(SUM(n) FILTER (WHERE is_float_integral), 0) AS n_float_integral,
    COALESCE(SUM(n) FILTER (WHERE is_integer), 0) AS n_integer,
    COALESCE(SUM(n) FILTER (WHERE is_decimal), 0) AS n_decimal,
    COALESCE(SUM(n) FILTER (WHERE is_code), 0) AS n_code,
    COALESCE(SUM(n) FILTER (WHERE is_number), 0) AS n_number,
    MIN(sample) AS sample_value,
    MIN(sample) FILTER (WHERE is_float_integral) AS sample_float,
    MIN(sample) FILTER (WHERE is_code) AS sample_code,
    MIN(sample) FILTER (WHERE NOT is_number) AS sample_text
FROM flags
