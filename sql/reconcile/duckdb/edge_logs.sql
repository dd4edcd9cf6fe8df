-- The logs of a few days read again log by log (a window's first day, a budget's crossing day): those
-- days' lake files (`edge_files`) and PostgreSQL's rows of those days for the entities concerned (`tail_edge`).
CREATE OR REPLACE TEMP VIEW edge_logs AS
SELECT api_key, user_id, team_id, organization_id, model, spend, CAST(event_time AS TIMESTAMP) AS event_time,
       CAST("date" AS DATE) AS day
FROM edge_files
WHERE CAST(event_time AS TIMESTAMP) < (SELECT cutoff FROM bounds)
UNION ALL
SELECT api_key, user_id, team_id, organization_id, model, spend, CAST(event_time AS TIMESTAMP), CAST(event_time AS DATE)
FROM tail_edge
