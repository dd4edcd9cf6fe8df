-- Every entity of a kind as reconciliation sees it, read in the reconciliation's snapshot (composed per kind
-- by llmusage.entities.compose): its name, the organization its team's or user's logs count for (teams and
-- users; NULL for the others), recorded spend, budget, blocked (FALSE where the kind has no such column)
-- and metadata (the block marker, budget_duration).
SELECT {id} AS entity_id, {name} AS name, {organization} AS organization_id, spend AS recorded_spend,
       max_budget, {blocked} AS blocked, COALESCE({metadata}, '{{}}'::jsonb) AS metadata, created_at
FROM {table}
