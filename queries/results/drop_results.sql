-- name: drop_results
-- kind: script
-- purpose: Remove the stored results of one dataset (before computing them
--   again, and by crmflow.store before delete_dataset removes the dataset).
-- grain: n/a
-- params: target_id
-- columns: none
DELETE FROM result_stage_snapshots WHERE dataset_id = $target_id;
DELETE FROM result_ntd_monthly WHERE dataset_id = $target_id;
DELETE FROM result_won_back_lost_monthly WHERE dataset_id = $target_id;
DELETE FROM result_stage_summary WHERE dataset_id = $target_id;
DELETE FROM result_revenue_to_date WHERE dataset_id = $target_id;
DELETE FROM result_won_back_lost_to_date WHERE dataset_id = $target_id;
DELETE FROM result_churn_signals WHERE dataset_id = $target_id;
DELETE FROM result_health_coverage WHERE dataset_id = $target_id;
DELETE FROM result_key_accounts WHERE dataset_id = $target_id;
DELETE FROM result_loyalty_trend WHERE dataset_id = $target_id;
DELETE FROM result_loyalty_prices WHERE dataset_id = $target_id;
DELETE FROM result_loyalty_customers WHERE dataset_id = $target_id;
DELETE FROM result_account_directory WHERE dataset_id = $target_id;
DELETE FROM result_clv_summary WHERE dataset_id = $target_id;
DELETE FROM result_holdout_purchases WHERE dataset_id = $target_id;
DELETE FROM result_stage_counts WHERE dataset_id = $target_id;
DELETE FROM result_pareto WHERE dataset_id = $target_id;
DELETE FROM result_params WHERE dataset_id = $target_id;
DELETE FROM result_clv_intervals WHERE dataset_id = $target_id;
DELETE FROM result_frames WHERE dataset_id = $target_id;
DELETE FROM result_runs WHERE dataset_id = $target_id;
