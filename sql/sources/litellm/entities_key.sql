-- A LiteLLM database's keys as reconciliation sees them (llmusage.reconcile.snapshot): the key's own budget
-- columns, else its budget row's (`budget_id` -> LiteLLM_BudgetTable); `spend` is the current period's
-- counter when a duration is set (LiteLLM's reset job zeroes it), `total_spend` the lifetime one.
SELECT k.token AS entity_id, COALESCE(k.key_alias, k.key_name) AS name, NULLIF(k.organization_id, '') AS organization_id,
       k.spend AS recorded_spend, COALESCE(k.max_budget, b.max_budget) AS max_budget, b.soft_budget,
       COALESCE(k.budget_duration, b.budget_duration) AS budget_duration,
       COALESCE(k.budget_reset_at, b.budget_reset_at) AS budget_reset_at,
       k.total_spend AS lifetime_spend, COALESCE(k.blocked, FALSE) AS blocked, k.metadata, k.created_at,
       CASE WHEN k.max_budget IS NOT NULL THEN 'column' WHEN b.max_budget IS NOT NULL THEN 'budget row' END AS budget_source,
       NULLIF(k.team_id, '') AS team_id
FROM "LiteLLM_VerificationToken" AS k
LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = k.budget_id
