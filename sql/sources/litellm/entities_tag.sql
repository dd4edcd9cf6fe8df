-- A LiteLLM database's tags with a budget, as reconciliation sees them (llmusage.reconcile.snapshot): a
-- tag's budget is its LiteLLM_BudgetTable row; `spend` is the counter LiteLLM checks with `>`.
SELECT t.tag_name AS entity_id, t.tag_name AS name, CAST(NULL AS text) AS organization_id,
       t.spend AS recorded_spend, b.max_budget, b.soft_budget, b.budget_duration, b.budget_reset_at,
       CAST(NULL AS double precision) AS lifetime_spend, FALSE AS blocked, CAST(NULL AS jsonb) AS metadata,
       t.created_at, 'budget row' AS budget_source, CAST(NULL AS text) AS team_id
FROM "LiteLLM_TagTable" AS t
JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = t.budget_id
WHERE b.max_budget IS NOT NULL OR b.soft_budget IS NOT NULL
