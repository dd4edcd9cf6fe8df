-- A LiteLLM database's logs from the cutoff on ("startTime", index-backed), summed at the ledger's grain
-- (key, user, team, organization, model, UTC day), '' made NULL, for reconciliation (llmusage.reconcile.snapshot).
SELECT NULLIF(api_key, '') AS api_key, NULLIF("user", '') AS user_id, NULLIF(team_id, '') AS team_id,
       NULLIF(organization_id, '') AS organization_id, NULLIF(model, '') AS model,
       CAST("startTime" AS DATE) AS day, sum(spend) AS spend, count(*) AS requests
FROM "LiteLLM_SpendLogs"
WHERE "startTime" >= %(cutoff)s
GROUP BY 1, 2, 3, 4, 5, 6
