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
--   crm_date(v, fmt): fmt is 'excel' (serial day number), or a strptime format (detected
--     from the column, or the user's own). The cheap cast reads values written exactly in
--     fmt; the general rules (crm_date_any) read the other real forms: a four-digit year
--     first (2024-1-5, 2024/01/05, ISO with T/Z/offset, 2024年1月5日), YYYYMMDD, day and
--     month in fmt's order with a two- or four-digit year in one column (5/7/03 next to
--     2/24/2003, separators / - .), English month names (05-Jan-2024, Jan 5, 2024, SAS
--     14JUN09:17:58:34); a time after the date is dropped. Two-digit years: 20yy, or 19yy
--     when 20yy would be more than 365 days after today. Out-of-range dates are returned
--     as read; crm_date_ok(d) says whether one is plausible (1900-01-01 to today + 365).
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

-- the day/month order a format gives numeric dates: 'dmy', 'mdy', 'ymd' (a two-digit year
-- first: '%y-%m-%d'), or '' (four-digit year first, month names, serials: no order needed)
CREATE OR REPLACE TEMP MACRO crm_date_order(fmt) AS
    CASE
        WHEN fmt = 'excel' THEN ''
        WHEN regexp_matches(fmt, '%-?d.*%-?m.*%-?[yY]') THEN 'dmy'
        WHEN regexp_matches(fmt, '%-?m.*%-?d.*%-?[yY]') THEN 'mdy'
        WHEN regexp_matches(fmt, '^%-?y.*%-?m.*%-?d') THEN 'ymd'
        ELSE ''
    END;

-- a date from year, month and day numbers, NULL when there is no such day; a two-digit
-- year is 20yy unless that day is more than 365 days after today, then 19yy
CREATE OR REPLACE TEMP MACRO crm_make_date(y, m, d, two_digit) AS
    CASE
        WHEN NOT two_digit THEN try(make_date(y, m, d))
        ELSE list_transform([try(make_date(2000 + y, m, d))],
                            lambda x: CASE WHEN x > current_date + 365 THEN try(make_date(1900 + y, m, d)) ELSE x END)[1]
    END;

-- a date read with strptime and a '%y' format, moved to the same two-digit-year pivot
-- (DuckDB reads 00-68 as 20yy, 69-99 as 19yy)
CREATE OR REPLACE TEMP MACRO crm_pivot(x) AS
    list_transform([x], lambda x: CASE WHEN x > current_date + 365 THEN CAST(x - INTERVAL 100 YEAR AS DATE) ELSE x END)[1];

-- a date with a year of four digits (a date read as year 3 from '5/7/03' is not one)
CREATE OR REPLACE TEMP MACRO crm_date_4(x) AS
    list_transform([x], lambda x: CASE WHEN x >= DATE '1000-01-01' THEN x END)[1];

-- the number of a month name: English abbreviation or full name, lower case
CREATE OR REPLACE TEMP MACRO crm_month_number(w) AS
    COALESCE(list_position(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], w),
             list_position(['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
                            'october', 'november', 'december'], w),
             CASE WHEN w = 'sept' THEN 9 END);

-- numeric dates (t: lower case, Chinese 年/月/日 replaced): a four-digit year first
-- (2024-01-05, 2024/1/5, 2024.01.05, ISO with T/Z/offset), YYYYMMDD, and day and month
-- in the order ord with a two- or four-digit year (5/7/03, 2/24/2003); any time after the
-- date is dropped (a one-digit year counts as two, as strptime's %y reads it). Each regex
-- appears once (lambdas reuse its parts), so that the optimiser never lifts it out of the
-- lazy branch it sits in.
CREATE OR REPLACE TEMP MACRO crm_date_numeric(t, ord) AS
    COALESCE(
        list_transform([regexp_extract(t, '^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[t\s].*)?$', ['a', 'b', 'c'])],
            lambda p: CASE
                WHEN p.a = '' THEN NULL
                WHEN length(p.a) = 4 AND length(p.c) <= 2
                    THEN crm_make_date(CAST(p.a AS INTEGER), CAST(p.b AS INTEGER), CAST(p.c AS INTEGER), FALSE)
                WHEN length(p.a) <= 2 AND length(p.c) <> 3 AND ord = 'dmy'
                    THEN crm_make_date(CAST(p.c AS INTEGER), CAST(p.b AS INTEGER), CAST(p.a AS INTEGER), length(p.c) <= 2)
                WHEN length(p.a) <= 2 AND length(p.c) <> 3 AND ord = 'mdy'
                    THEN crm_make_date(CAST(p.c AS INTEGER), CAST(p.a AS INTEGER), CAST(p.b AS INTEGER), length(p.c) <= 2)
                WHEN length(p.a) <= 2 AND length(p.c) <= 2 AND ord = 'ymd'
                    THEN crm_make_date(CAST(p.a AS INTEGER), CAST(p.b AS INTEGER), CAST(p.c AS INTEGER), TRUE)
            END)[1],
        list_transform([regexp_extract(t, '^(\d{4})(\d{2})(\d{2})(?:[t\s].*)?$', ['y', 'm', 'd'])],
            lambda p: CASE WHEN p.y <> ''
                THEN crm_make_date(CAST(p.y AS INTEGER), CAST(p.m AS INTEGER), CAST(p.d AS INTEGER), FALSE) END)[1]);

-- dates with an English month name (t: lower case), a weekday in front dropped:
-- day month year (05-jan-2024, 5 jan 2024, SAS 14jun09:17:58:34 and 14jun2009, Oracle
-- 05-jan-24), month day year (jan 5, 2024; january 5th 2024), year month day (2024-jan-05)
CREATE OR REPLACE TEMP MACRO crm_date_month(t) AS
    list_transform([regexp_extract(
        regexp_replace(t, '^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*', ''),
        '^(?:(\d{1,2})[-\s/.]*([a-z]{3,9})\.?[-\s/.,]*(\d{4}|\d{1,2})'
            || '|([a-z]{3,9})\.?[-\s/.]*(\d{1,2})(?:st|nd|rd|th)?[-\s/.,]*(\d{4}|\d{1,2})'
            || '|(\d{4})[-\s/.]*([a-z]{3,9})\.?[-\s/.]*(\d{1,2}))(?:[:\st].*)?$',
        ['d1', 'm1', 'y1', 'm2', 'd2', 'y2', 'y3', 'm3', 'd3'])],
        lambda p: CASE
            WHEN p.d1 <> '' THEN crm_make_date(CAST(p.y1 AS INTEGER), crm_month_number(p.m1), CAST(p.d1 AS INTEGER),
                                               length(p.y1) <= 2)
            WHEN p.m2 <> '' THEN crm_make_date(CAST(p.y2 AS INTEGER), crm_month_number(p.m2), CAST(p.d2 AS INTEGER),
                                               length(p.y2) <= 2)
            WHEN p.y3 <> '' THEN crm_make_date(CAST(p.y3 AS INTEGER), crm_month_number(p.m3), CAST(p.d3 AS INTEGER),
                                               FALSE)
        END)[1];

-- the general rules: fmt 'excel' reads serial day numbers only; any other format reads the
-- value with fmt (a user's strptime pattern may hold a time or month names), then every
-- numeric form above with fmt's day/month order, then month names
CREATE OR REPLACE TEMP MACRO crm_date_any(v, fmt) AS
    CASE
        WHEN crm_text(v) IS NULL THEN NULL
        WHEN fmt = 'excel' THEN
            CASE WHEN TRY_CAST(TRIM(v) AS DOUBLE) BETWEEN 1 AND 2958465
                 THEN CAST(DATE '1899-12-30' + CAST(floor(TRY_CAST(TRIM(v) AS DOUBLE)) AS INTEGER) AS DATE)
            END
        ELSE list_transform(
            [replace(replace(replace(lower(TRIM(v)), '年', '-'), '月', '-'), '日', '')],
            lambda t: COALESCE(
                CASE WHEN contains(fmt, '%y') OR contains(fmt, '%-y')
                     THEN crm_pivot(CAST(try_strptime(TRIM(v), fmt) AS DATE))
                     ELSE crm_date_4(CAST(try_strptime(TRIM(v), fmt) AS DATE))
                END,
                crm_date_numeric(t, crm_date_order(fmt)),
                crm_date_month(t)))[1]
    END;

-- the cheap cast first: ISO by a DATE cast (four characters before the first '-'), any
-- other strptime format by strptime
-- (a '%Y' must read four digits; '%y' formats pivoted like crm_make_date)
CREATE OR REPLACE TEMP MACRO crm_date(v, fmt) AS
    COALESCE(
        CASE WHEN fmt = '%Y-%m-%d' THEN CASE WHEN strpos(v, '-') = 5 THEN TRY_CAST(v AS DATE) END
             WHEN fmt = 'excel' THEN NULL
             -- day/month with two- and four-digit years in one column: both tried by strptime
             WHEN fmt IN ('%d/%m/%Y', '%d/%m/%y') THEN
                 COALESCE(crm_date_4(CAST(try_strptime(v, '%d/%m/%Y') AS DATE)),
                          crm_pivot(CAST(try_strptime(v, '%d/%m/%y') AS DATE)))
             WHEN fmt IN ('%m/%d/%Y', '%m/%d/%y') THEN
                 COALESCE(crm_date_4(CAST(try_strptime(v, '%m/%d/%Y') AS DATE)),
                          crm_pivot(CAST(try_strptime(v, '%m/%d/%y') AS DATE)))
             WHEN contains(fmt, '%y') OR contains(fmt, '%-y') THEN crm_pivot(CAST(try_strptime(v, fmt) AS DATE))
             ELSE crm_date_4(CAST(try_strptime(v, fmt) AS DATE))
        END,
        crm_date_any(v, fmt));

-- is a date plausible: from 1900-01-01 to 365 days after today
CREATE OR REPLACE TEMP MACRO crm_date_ok(d) AS
    d BETWEEN DATE '1900-01-01' AND current_date + 365;

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
