-- name: dataset_stored
-- purpose: Whether a dataset is still stored (fits computed in the background
--   are stored only when their dataset has not been deleted or replaced since).
-- grain: one row when it is stored, none when not
-- params: target_id
-- columns: dataset_id
SELECT dataset_id FROM datasets WHERE dataset_id = $target_id
