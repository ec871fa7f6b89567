-- name: next_dataset_id
-- purpose: Hand out the id for a new dataset: one above the last id ever handed
--   out (the dataset_counter table), so ids are never reused while the file
--   lives, even after the newest dataset is deleted or replaced. GREATEST also
--   covers ids written by an older crmflow that did not keep the counter.
--   Run it inside the ingest transaction (a failed ingest gives its id back).
-- grain: one row
-- params: none
-- columns: dataset_id
UPDATE dataset_counter
SET last_id = GREATEST(last_id, (SELECT COALESCE(MAX(dataset_id), 0) FROM datasets)) + 1
RETURNING CAST(last_id AS INTEGER) AS dataset_id
