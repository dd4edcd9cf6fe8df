-- The reconciliation's aggregation run in PostgreSQL, for the ratio: spend per entity and model over
-- every log, a log's organization being its team's, else its user's.
WITH attributed AS (
    SELECT l.api_key, l."user", l.team_id, COALESCE(t.organization_id, u.organization_id) AS organization_id,
           l.model, l.spend
    FROM "LiteLLM_SpendLogs" AS l
    LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = l.team_id
    LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = l."user"
)
SELECT api_key, "user", team_id, organization_id, model, sum(spend) AS spend, count(*) AS requests
FROM attributed
GROUP BY GROUPING SETS ((api_key, model), ("user", model), (team_id, model), (organization_id, model))
