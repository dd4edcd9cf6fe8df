-- The settled days of the lake: partitions before the cutoff day (later days come from PostgreSQL).
CREATE OR REPLACE TEMP VIEW lake_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at
FROM read_parquet($glob, hive_partitioning = true, union_by_name = true)
WHERE CAST("date" AS DATE) < CAST($cutoff AS DATE)
