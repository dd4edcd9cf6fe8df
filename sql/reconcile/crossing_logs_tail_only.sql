-- The logs of the crossing days when none of them is in the lake: PostgreSQL's tail alone.
CREATE OR REPLACE TEMP VIEW crossing_logs AS
SELECT request_id, api_key, "user", team_id, model, spend, CAST(created_at AS TIMESTAMP) AS created_at FROM tail
