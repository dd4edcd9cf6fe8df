-- A LiteLLM database's users as reconciliation sees them (llmusage.reconcile.snapshot). A user's budget
-- holds that user's personal (team-less) keys only; `spend` is the current period's counter.
SELECT u.user_id AS entity_id, COALESCE(u.user_alias, u.user_email) AS name, NULLIF(u.organization_id, '') AS organization_id,
       u.spend AS recorded_spend, u.max_budget, CAST(NULL AS double precision) AS soft_budget, u.budget_duration,
       u.budget_reset_at, CAST(NULL AS double precision) AS lifetime_spend, FALSE AS blocked, u.metadata, u.created_at,
       CASE WHEN u.max_budget IS NOT NULL THEN 'column' END AS budget_source, CAST(NULL AS text) AS team_id
FROM "LiteLLM_UserTable" AS u
