-- Dimension snapshot of a LiteLLM database's keys: names, owners, budgets (the key's columns, else its
-- budget row's) and state; `token` is already a SHA-256 digest, never the key.
SELECT k.token, k.key_name, k.key_alias, NULLIF(k.user_id, '') AS user_id, NULLIF(k.team_id, '') AS team_id,
       NULLIF(k.organization_id, '') AS organization_id, k.budget_id, COALESCE(k.max_budget, b.max_budget) AS max_budget,
       b.soft_budget, COALESCE(k.budget_duration, b.budget_duration) AS budget_duration,
       COALESCE(k.budget_reset_at, b.budget_reset_at) AS budget_reset_at, k.spend, k.total_spend, k.models,
       k.tpm_limit, k.rpm_limit, k.max_parallel_requests, COALESCE(k.blocked, FALSE) AS blocked, k.expires,
       CAST(k.metadata AS text) AS metadata, k.created_at, k.updated_at
FROM "LiteLLM_VerificationToken" AS k
LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = k.budget_id
