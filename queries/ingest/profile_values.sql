-- name: profile_values
-- purpose: Profile one text column (the view profile_input(v)) to decide how to
--   parse it from the whole column, not the first rows: how many values look
--   like each date shape, which day/month parts exceed 12, and which number
--   conventions (decimal comma vs. decimal point) they follow.
--   Works on the distinct values (a date column has a few thousand), which is
--   what makes profiling a million rows cheap; counts are of distinct values.
-- grain: one row
-- params: none
-- columns: n_values, n_iso, n_ymd8, n_slash, n_slash_yy, n_first_gt12, n_second_gt12,
--   n_excel, n_number, n_comma_decimal, n_dot_decimal, n_comma_thousands, n_dot_thousands
WITH vals AS (
    SELECT crm_date_text(t) AS d, t
    FROM (SELECT DISTINCT TRIM(v) AS t FROM profile_input WHERE crm_text(v) IS NOT NULL) AS distinct_values
)
SELECT
    COUNT(*) AS n_values,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '\d{4}[-/.]\d{1,2}[-/.]\d{1,2}')) AS n_iso,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])')) AS n_ymd8,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '\d{1,2}[-/.]\d{1,2}[-/.]\d{4}')) AS n_slash,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '\d{1,2}[-/.]\d{1,2}[-/.]\d{2}')) AS n_slash_yy,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}')
                       AND TRY_CAST(regexp_extract(d, '^(\d{1,2})', 1) AS INTEGER) > 12) AS n_first_gt12,
    COUNT(*) FILTER (WHERE regexp_full_match(d, '\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}')
                       AND TRY_CAST(regexp_extract(d, '^\d{1,2}[-/.](\d{1,2})', 1) AS INTEGER) > 12) AS n_second_gt12,
    COUNT(*) FILTER (WHERE regexp_full_match(t, '\d{5}(\.\d+)?')
                       AND TRY_CAST(t AS DOUBLE) BETWEEN 20000 AND 80000) AS n_excel,
    COUNT(*) FILTER (WHERE regexp_full_match(t, '[-+(]?[^0-9]{0,4}[0-9][0-9.,\s''’\x{00A0}\x{202F}]*[)-]?[^0-9]{0,4}')) AS n_number,
    COUNT(*) FILTER (WHERE regexp_matches(t, '\d,\d{1,2}$|\d,\d{4,}$|\d\.\d{3},\d|\d\.\d{3}\.\d{3}|^[-+]?0,\d')) AS n_comma_decimal,
    COUNT(*) FILTER (WHERE regexp_matches(t, '\d\.\d{1,2}$|\d\.\d{4,}$|\d,\d{3}\.\d|\d,\d{3},\d{3}|^[-+]?0\.\d')) AS n_dot_decimal,
    COUNT(*) FILTER (WHERE regexp_matches(t, '\d,\d{3}([^0-9]|$)')) AS n_comma_thousands,
    COUNT(*) FILTER (WHERE regexp_matches(t, '\d\.\d{3}([^0-9]|$)')) AS n_dot_thousands
FROM vals
