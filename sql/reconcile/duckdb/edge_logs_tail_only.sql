-- The edge days' logs when none of those days is a settled lake day: PostgreSQL's rows alone.
CREATE OR REPLACE TEMP VIEW edge_logs AS
SELECT api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at,
       CAST(created_at AS DATE) AS day
FROM tail_edge
