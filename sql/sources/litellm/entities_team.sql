-- A LiteLLM database's teams as reconciliation sees them (llmusage.reconcile.snapshot); `spend` is the
-- current period's counter, `soft_budget` LiteLLM's warning level.
SELECT t.team_id AS entity_id, t.team_alias AS name, NULLIF(t.organization_id, '') AS organization_id,
       t.spend AS recorded_spend, t.max_budget, t.soft_budget, t.budget_duration, t.budget_reset_at,
       CAST(NULL AS double precision) AS lifetime_spend, t.blocked, t.metadata, t.created_at,
       CASE WHEN t.max_budget IS NOT NULL THEN 'column' END AS budget_source, CAST(NULL AS text) AS team_id
FROM "LiteLLM_TeamTable" AS t
