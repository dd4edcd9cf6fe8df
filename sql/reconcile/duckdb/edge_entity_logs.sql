-- The edge days' logs, once per entity they count for (key, user, team, and organization: its team's,
-- else its user's; see log_organization.sql).
CREATE OR REPLACE TEMP VIEW edge_entity_logs AS
WITH attributed AS (
    SELECT *, log_organization(team_id, "user") AS organization_id FROM edge_logs
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
