-- name: store_result_frame
-- purpose: Store one per-customer table of a page at D (crmflow.results.FRAME_FITS:
--   built in Python from the stored fits) for one dataset, kind and definitions
--   key, as the bytes of a Parquet file.
-- grain: n/a
-- params: target_id, kind, defs_key, data
-- columns: none (inserts into result_frames)
INSERT INTO result_frames VALUES ($target_id, $kind, $defs_key, $data)
