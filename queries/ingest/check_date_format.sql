-- name: check_date_format
-- purpose: Try a user's strptime pattern (--date-format) on one value, so that a
--   pattern DuckDB's strptime refuses fails here, with one clear message, and not
--   in the middle of parsing a file.
-- grain: one row
-- params: fmt
-- columns: parsed
SELECT try_strptime('2024-01-05', $fmt) AS parsed
