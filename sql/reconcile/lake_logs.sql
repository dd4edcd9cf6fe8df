-- The settled days of the lake (the partitions before the cutoff day; `lake_files` reads exactly their
-- files). `day` is the partition: the UTC day of created_at.
CREATE OR REPLACE TEMP VIEW lake_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at,
       CAST("date" AS DATE) AS day
FROM lake_files
