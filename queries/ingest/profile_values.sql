-- name: profile_values
-- purpose: Profile one text column (the view profile_input(v)) to decide how to
--   parse it from the whole column, not the first rows: how many values look
--   like each date shape, which day/month parts exceed 12, and which number
--   conventions (decimal comma vs. decimal point) they follow.
--   Works on the distinct values (a date column has a few thousand), and counts
--   are of distinct values. The pattern tests that only look at the layout of a
--   value run once per shape — the value with digits 1-9 written as 9 (0 is
--   kept: '0,5' is a decimal) — so an amount column with 500,000 distinct values
--   but a few hundred shapes costs a few hundred regex calls; only the tests
--   that need the digits (day > 12, a valid YYYYMMDD, an Excel serial range) look
--   at the values, and only at those whose shape can pass them.
--   Dates: n_slash (day and month, four-digit year) and n_slash_yy (two-digit
--   year) may both be in one column (Excel re-saves); n_month counts values with
--   an English month name (05-Jan-2024, Jan 5, 2024, SAS 14JUN09:17:58:34),
--   n_month_first those that start with it, n_yy every value with a two-digit
--   year; month_format is the strptime layout of the commonest month-name shape
--   when it is a usual one (SAS '%d%b%y:%H:%M:%S', '%d-%b-%Y', ...), else NULL.
--   examples: up to 3 distinct values (for a message about the column).
-- grain: one row
-- params: none
-- columns: n_values, n_iso, n_ymd8, n_slash, n_slash_yy, n_first_gt12, n_second_gt12,
--   n_excel, n_number, n_comma_decimal, n_dot_decimal, n_comma_thousands, n_dot_thousands,
--   n_month, n_month_first, n_yy, month_format, examples
WITH distinct_raw AS (
    SELECT DISTINCT v FROM profile_input
),
vals AS (
    SELECT DISTINCT crm_text(v) AS t FROM distinct_raw WHERE crm_text(v) IS NOT NULL
),
shaped AS (
    SELECT t, translate(t, '123456789', '999999999') AS shape FROM vals
),
shapes AS (
    SELECT shape, COUNT(*) AS n FROM shaped GROUP BY shape
),
flags AS (
    SELECT
        shape,
        n,
        regexp_full_match(crm_date_text(shape), '\d{4}[-/.]\d{1,2}[-/.]\d{1,2}') AS is_iso,
        regexp_full_match(crm_date_text(shape), '\d{8}') AS is_8_digits,
        regexp_full_match(crm_date_text(shape), '\d{1,2}[-/.]\d{1,2}[-/.]\d{4}') AS is_slash,
        regexp_full_match(crm_date_text(shape), '\d{1,2}[-/.]\d{1,2}[-/.]\d{2}') AS is_slash_yy,
        regexp_full_match(crm_date_text(shape), '\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}') AS is_slash_any,
        regexp_full_match(shape, '\d{5}(\.\d+)?') AS is_5_digits,
        regexp_extract(lower(shape),
            '^(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*)?(?:'
                || '\d{1,2}[-\s/.]*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|september|october|november|december)\.?[-\s/.,]*(\d{4}|\d{2})'
                || '|(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|september|october|november|december)\.?[-\s/.]*\d{1,2}(?:st|nd|rd|th)?[-\s/.,]*(\d{4}|\d{2})'
                || '|(\d{4})[-\s/.]*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|september|october|november|december)\.?[-\s/.]*\d{1,2}'
                || ')(?:[:\st].*)?$',
            ['y1', 'first', 'y2', 'y3']) AS month_parts,
        -- the strptime layout of a month-name shape, when it is one of the common ones
        CASE WHEN regexp_matches(lower(shape), '[a-z]{3}') THEN
            CASE WHEN regexp_full_match(lower(shape), '\d{2}[a-z]{3}\d{2}:\d{2}:\d{2}:\d{2}') THEN '%d%b%y:%H:%M:%S'
                 WHEN regexp_full_match(lower(shape), '\d{2}[a-z]{3}\d{4}') THEN '%d%b%Y'
                 WHEN regexp_full_match(lower(shape), '\d{2}[a-z]{3}\d{2}') THEN '%d%b%y'
                 WHEN regexp_full_match(lower(shape), '\d{1,2}-[a-z]{3}-\d{4}') THEN '%d-%b-%Y'
                 WHEN regexp_full_match(lower(shape), '\d{1,2}-[a-z]{3}-\d{2}') THEN '%d-%b-%y'
                 WHEN regexp_full_match(lower(shape), '\d{1,2} [a-z]{3} \d{4}') THEN '%d %b %Y'
                 WHEN regexp_full_match(lower(shape), '[a-z]{3} \d{1,2}, \d{4}') THEN '%b %d, %Y'
            END
        END AS month_layout,
        regexp_full_match(shape, '[-+(]?[^0-9]{0,4}[0-9][0-9.,\s''’\x{00A0}\x{202F}]*[)-]?[^0-9]{0,4}') AS is_number,
        regexp_matches(shape, '\d,\d{1,2}$|\d,\d{4,}$|\d\.\d{3},\d|\d\.\d{3}\.\d{3}|^[-+]?0,\d') AS is_comma_decimal,
        regexp_matches(shape, '\d\.\d{1,2}$|\d\.\d{4,}$|\d,\d{3}\.\d|\d,\d{3},\d{3}|^[-+]?0\.\d') AS is_dot_decimal,
        regexp_matches(shape, '\d,\d{3}([^0-9]|$)') AS is_comma_thousands,
        regexp_matches(shape, '\d\.\d{3}([^0-9]|$)') AS is_dot_thousands
    FROM shapes
),
by_digits AS (
    SELECT
        COUNT(*) FILTER (WHERE f.is_8_digits
                           AND regexp_full_match(crm_date_text(s.t),
                                                 '(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])')) AS n_ymd8,
        COUNT(*) FILTER (WHERE f.is_slash_any
                           AND TRY_CAST(regexp_extract(crm_date_text(s.t), '^(\d{1,2})', 1) AS INTEGER) > 12) AS n_first_gt12,
        COUNT(*) FILTER (WHERE f.is_slash_any
                           AND TRY_CAST(regexp_extract(crm_date_text(s.t), '^\d{1,2}[-/.](\d{1,2})', 1) AS INTEGER) > 12) AS n_second_gt12,
        COUNT(*) FILTER (WHERE f.is_5_digits AND TRY_CAST(s.t AS DOUBLE) BETWEEN 20000 AND 80000) AS n_excel
    FROM shaped AS s
    JOIN flags AS f ON f.shape = s.shape
    WHERE f.is_8_digits OR f.is_slash_any OR f.is_5_digits
),
by_shape AS (
    SELECT
        COALESCE(SUM(n), 0) AS n_values,
        COALESCE(SUM(n) FILTER (WHERE is_iso), 0) AS n_iso,
        COALESCE(SUM(n) FILTER (WHERE is_slash), 0) AS n_slash,
        COALESCE(SUM(n) FILTER (WHERE is_slash_yy), 0) AS n_slash_yy,
        COALESCE(SUM(n) FILTER (WHERE is_number), 0) AS n_number,
        COALESCE(SUM(n) FILTER (WHERE is_comma_decimal), 0) AS n_comma_decimal,
        COALESCE(SUM(n) FILTER (WHERE is_dot_decimal), 0) AS n_dot_decimal,
        COALESCE(SUM(n) FILTER (WHERE is_comma_thousands), 0) AS n_comma_thousands,
        COALESCE(SUM(n) FILTER (WHERE is_dot_thousands), 0) AS n_dot_thousands,
        COALESCE(SUM(n) FILTER (WHERE month_parts.y1 <> '' OR month_parts.y2 <> '' OR month_parts.y3 <> ''), 0) AS n_month,
        COALESCE(SUM(n) FILTER (WHERE month_parts.first <> ''), 0) AS n_month_first,
        COALESCE(SUM(n) FILTER (WHERE is_slash_yy OR length(month_parts.y1) = 2 OR length(month_parts.y2) = 2), 0) AS n_yy
    FROM flags
),
layouts AS (
    SELECT (SELECT month_layout FROM flags
            WHERE month_layout IS NOT NULL AND (month_parts.y1 <> '' OR month_parts.y2 <> '')
            GROUP BY month_layout ORDER BY SUM(n) DESC, month_layout LIMIT 1) AS month_format
),
examples AS (
    SELECT list(t ORDER BY t) AS examples FROM (SELECT t FROM vals ORDER BY t LIMIT 3)
)
SELECT
    by_shape.n_values, by_shape.n_iso, by_digits.n_ymd8, by_shape.n_slash, by_shape.n_slash_yy,
    by_digits.n_first_gt12, by_digits.n_second_gt12, by_digits.n_excel, by_shape.n_number,
    by_shape.n_comma_decimal, by_shape.n_dot_decimal, by_shape.n_comma_thousands, by_shape.n_dot_thousands,
    by_shape.n_month, by_shape.n_month_first, by_shape.n_yy, layouts.month_format, examples.examples
FROM by_shape, by_digits, layouts, examples
