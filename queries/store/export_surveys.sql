-- name: export_surveys
-- purpose: One dataset's surveys rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored surveys row of the dataset
-- params: target_id
-- columns: every column of surveys but dataset_id
SELECT * EXCLUDE (dataset_id) FROM surveys WHERE dataset_id = $target_id
