-- Every spend log in the lake, one row per request; `date` is the partition (UTC day of created_at).
-- union_by_name: a column added to PostgreSQL later is NULL in the partitions written before it.
SELECT *
FROM read_parquet({lake} || '/spend_logs/date=*/*.parquet', hive_partitioning = true, union_by_name = true)
