-- The logs of the days in which a budget was crossed: those days' lake files (listed, so no other
-- partition is opened) and PostgreSQL's tail.
CREATE OR REPLACE TEMP VIEW crossing_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at
FROM read_parquet($files, union_by_name = true)
UNION ALL
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) FROM tail
