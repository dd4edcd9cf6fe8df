-- Every entity of a kind as reconciliation sees it on the llmusage flavour, read in the reconciliation's
-- snapshot (composed per kind by llmusage.entities.compose): its name, its organization (NULL for keys),
-- recorded spend, budget, blocked (FALSE where the kind has no such column) and metadata (the block marker,
-- budget_duration). The budget-period columns LiteLLM keeps (soft_budget, budget_reset_at, lifetime spend)
-- are NULL here: the period comes from metadata (llmusage.budgets.window).
SELECT {id} AS entity_id, {name} AS name, {organization} AS organization_id, spend AS recorded_spend,
       max_budget, CAST(NULL AS double precision) AS soft_budget, CAST(NULL AS text) AS budget_duration,
       CAST(NULL AS timestamp) AS budget_reset_at, CAST(NULL AS double precision) AS lifetime_spend,
       {blocked} AS blocked, COALESCE({metadata}, '{{}}'::jsonb) AS metadata, created_at,
       CASE WHEN max_budget IS NOT NULL THEN 'column' END AS budget_source, CAST(NULL AS text) AS team_id
FROM {table}
