-- name: export_transactions
-- purpose: One dataset's transactions rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored transactions row of the dataset
-- params: target_id
-- columns: every column of transactions but dataset_id
SELECT * EXCLUDE (dataset_id) FROM transactions WHERE dataset_id = $target_id
