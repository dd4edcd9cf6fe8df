-- The edge logs (edge_logs.sql) once per entity they count for, as entity_daily.sql counts them.
CREATE OR REPLACE TEMP VIEW edge_entity_logs AS
SELECT 'key' AS entity_type, api_key AS entity_id, model, day, event_time, spend
FROM edge_logs WHERE api_key IS NOT NULL
UNION ALL
SELECT 'user', user_id, model, day, event_time, spend FROM edge_logs WHERE user_id IS NOT NULL
UNION ALL
SELECT 'team', team_id, model, day, event_time, spend FROM edge_logs WHERE team_id IS NOT NULL
UNION ALL
SELECT 'organization', organization_id, model, day, event_time, spend
FROM edge_logs WHERE organization_id IS NOT NULL
