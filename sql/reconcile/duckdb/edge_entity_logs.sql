-- The edge days' logs, once per entity they count for (key, user, team, organization).
CREATE OR REPLACE TEMP VIEW edge_entity_logs AS
WITH attributed AS (
    SELECT l.*, COALESCE(t.organization_id, u.organization_id) AS organization_id
    FROM edge_logs AS l
    LEFT JOIN pg_teams AS t ON t.team_id = l.team_id
    LEFT JOIN pg_users AS u ON u.user_id = l."user"
)
SELECT 'key' AS entity_type, api_key AS entity_id, model, day, created_at, spend
FROM attributed WHERE api_key IS NOT NULL
UNION ALL
SELECT 'user', "user", model, day, created_at, spend FROM attributed WHERE "user" IS NOT NULL
UNION ALL
SELECT 'team', team_id, model, day, created_at, spend FROM attributed WHERE team_id IS NOT NULL
UNION ALL
SELECT 'organization', organization_id, model, day, created_at, spend
FROM attributed WHERE organization_id IS NOT NULL
