-- name: store_result_params
-- purpose: Store one fit of one dataset as its fitted parameters (JSON): the CLV
--   model choice and fit, its default backtest, the churn calibration or its
--   track record (crmflow.results.compute_fits), for one definitions key.
-- grain: n/a
-- params: target_id, kind, defs_key, payload
-- columns: none (inserts into result_params)
INSERT INTO result_params VALUES ($target_id, $kind, $defs_key, $payload)
