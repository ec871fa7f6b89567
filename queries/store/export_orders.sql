-- name: export_orders
-- purpose: One dataset's orders rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored orders row of the dataset
-- params: target_id
-- columns: every column of orders but dataset_id
SELECT * EXCLUDE (dataset_id) FROM orders WHERE dataset_id = $target_id
