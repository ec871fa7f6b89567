-- name: export_interactions
-- purpose: One dataset's interactions rows, written as Parquet for the Spark engine
--   (crmflow.engine_spark.SparkData; the partition folder names the dataset).
-- grain: one row per stored interactions row of the dataset
-- params: target_id
-- columns: every column of interactions but dataset_id
SELECT * EXCLUDE (dataset_id) FROM interactions WHERE dataset_id = $target_id
