-- name: export_transaction_customers
-- purpose: One dataset's transaction_customers rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored transaction_customers row of the dataset
-- params: target_id
-- columns: every column of transaction_customers but dataset_id
SELECT * EXCLUDE (dataset_id) FROM transaction_customers WHERE dataset_id = $target_id
