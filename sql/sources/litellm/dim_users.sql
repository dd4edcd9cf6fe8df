-- Dimension snapshot of a LiteLLM database's users (no password, no SSO id).
SELECT user_id, user_alias, user_email, user_role, NULLIF(team_id, '') AS team_id, teams,
       NULLIF(organization_id, '') AS organization_id, max_budget, budget_duration, budget_reset_at, spend, models,
       tpm_limit, rpm_limit, max_parallel_requests, CAST(metadata AS text) AS metadata, created_at, updated_at
FROM "LiteLLM_UserTable"
