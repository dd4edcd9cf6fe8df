-- Dimension snapshot of a LiteLLM database's organizations, with the budget of their LiteLLM_BudgetTable
-- row (an organization has no budget columns of its own).
SELECT o.organization_id, o.organization_alias, o.budget_id, b.max_budget, b.soft_budget, b.budget_duration,
       b.budget_reset_at, o.spend, o.models, CAST(o.metadata AS text) AS metadata, o.created_at, o.updated_at
FROM "LiteLLM_OrganizationTable" AS o
LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = o.budget_id
