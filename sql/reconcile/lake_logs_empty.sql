-- The lake has no partition yet: every log comes from PostgreSQL's tail.
CREATE OR REPLACE TEMP VIEW lake_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at
FROM tail WHERE FALSE
