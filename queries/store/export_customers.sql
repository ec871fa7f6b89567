-- name: export_customers
-- purpose: One dataset's customers rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored customers row of the dataset
-- params: target_id
-- columns: every column of customers but dataset_id
SELECT * EXCLUDE (dataset_id) FROM customers WHERE dataset_id = $target_id
