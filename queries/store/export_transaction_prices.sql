-- name: export_transaction_prices
-- purpose: One dataset's transaction_prices rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored transaction_prices row of the dataset
-- params: target_id
-- columns: every column of transaction_prices but dataset_id
SELECT * EXCLUDE (dataset_id) FROM transaction_prices WHERE dataset_id = $target_id
