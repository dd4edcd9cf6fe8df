-- A LiteLLM database's team memberships with a budget, as reconciliation sees them
-- (llmusage.reconcile.snapshot): the id is user_id:team_id, the budget the membership's LiteLLM_BudgetTable
-- row, `spend` the counter LiteLLM checks with `>=`, `total_spend` the lifetime one.
SELECT m.user_id || ':' || m.team_id AS entity_id,
       COALESCE(u.user_email, m.user_id) || ' in ' || COALESCE(t.team_alias, m.team_id) AS name,
       NULLIF(t.organization_id, '') AS organization_id, m.spend AS recorded_spend, b.max_budget, b.soft_budget,
       b.budget_duration, b.budget_reset_at, m.total_spend AS lifetime_spend, FALSE AS blocked,
       CAST(NULL AS jsonb) AS metadata, CAST(NULL AS timestamp) AS created_at, 'budget row' AS budget_source,
       m.team_id
FROM "LiteLLM_TeamMembership" AS m
JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = m.budget_id
LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = m.user_id
LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = m.team_id
WHERE b.max_budget IS NOT NULL OR b.soft_budget IS NOT NULL
