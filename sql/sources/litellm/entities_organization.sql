-- A LiteLLM database's organizations as reconciliation sees them (llmusage.reconcile.snapshot): an
-- organization has no budget columns, its budget is its (required) LiteLLM_BudgetTable row.
SELECT o.organization_id AS entity_id, o.organization_alias AS name, o.organization_id,
       o.spend AS recorded_spend, b.max_budget, b.soft_budget, b.budget_duration, b.budget_reset_at,
       CAST(NULL AS double precision) AS lifetime_spend, FALSE AS blocked, o.metadata, o.created_at,
       CASE WHEN b.max_budget IS NOT NULL THEN 'budget row' END AS budget_source, CAST(NULL AS text) AS team_id
FROM "LiteLLM_OrganizationTable" AS o
LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = o.budget_id
