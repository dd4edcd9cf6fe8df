-- The edge days' logs when none of those days is in the lake: the tail's rows of those days.
CREATE OR REPLACE TEMP VIEW edge_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at,
       CAST(created_at AS DATE) AS day
FROM tail
WHERE CAST(created_at AS DATE) IN (SELECT day FROM edge_days)
