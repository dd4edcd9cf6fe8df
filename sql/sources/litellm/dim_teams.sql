-- Dimension snapshot of a LiteLLM database's teams.
SELECT team_id, team_alias, NULLIF(organization_id, '') AS organization_id, max_budget, soft_budget, budget_duration,
       budget_reset_at, spend, models, tpm_limit, rpm_limit, max_parallel_requests, blocked, members, admins,
       CAST(metadata AS text) AS metadata, created_at, updated_at
FROM "LiteLLM_TeamTable"
