-- Teams as reconciliation sees them.
SELECT team_id AS entity_id, COALESCE(team_alias, team_id) AS name, organization_id, spend AS recorded_spend,
       max_budget, COALESCE(blocked, FALSE) AS blocked, COALESCE(metadata, '{}'::jsonb) AS metadata, created_at
FROM "LiteLLM_TeamTable"
