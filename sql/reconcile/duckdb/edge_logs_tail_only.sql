-- The edge days' logs when none of those days is a settled lake day: PostgreSQL's rows alone.
CREATE OR REPLACE TEMP VIEW edge_logs AS
SELECT api_key, user_id, team_id, organization_id, model, spend, CAST(event_time AS TIMESTAMP) AS event_time,
       CAST(event_time AS DATE) AS day
FROM tail_edge
