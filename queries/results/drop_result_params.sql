-- name: drop_result_params
-- purpose: Remove the stored fits of one dataset (and the intervals and frames
--   computed from them), and the note that they are
--   stored ($query_name: crmflow.results.FITS_RUN), before storing them again.
-- grain: n/a
-- params: target_id, query_name
-- columns: none
DELETE FROM result_params WHERE dataset_id = $target_id;
DELETE FROM result_clv_intervals WHERE dataset_id = $target_id;
DELETE FROM result_frames WHERE dataset_id = $target_id;
DELETE FROM result_runs WHERE dataset_id = $target_id AND query = $query_name
