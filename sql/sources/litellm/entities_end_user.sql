-- A LiteLLM database's end users with a budget, as reconciliation sees them (llmusage.reconcile.snapshot):
-- an end user's budget is its LiteLLM_BudgetTable row; `spend` is the counter LiteLLM checks with `>`.
SELECT e.user_id AS entity_id, COALESCE(e.alias, e.user_id) AS name, CAST(NULL AS text) AS organization_id,
       e.spend AS recorded_spend, b.max_budget, b.soft_budget, b.budget_duration, b.budget_reset_at,
       CAST(NULL AS double precision) AS lifetime_spend, e.blocked, CAST(NULL AS jsonb) AS metadata,
       CAST(NULL AS timestamp) AS created_at, 'budget row' AS budget_source, CAST(NULL AS text) AS team_id
FROM "LiteLLM_EndUserTable" AS e
JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = e.budget_id
WHERE b.max_budget IS NOT NULL OR b.soft_budget IS NOT NULL
