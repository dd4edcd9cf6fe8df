-- The lake has no settled partition: every log comes from PostgreSQL's tail.
CREATE OR REPLACE TEMP VIEW lake_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at,
       CAST(created_at AS DATE) AS day
FROM tail WHERE FALSE
