-- The logs from the cutoff on, summed at the ledger's grain (key, user, team, model, UTC day).
SELECT api_key, "user", team_id, model, CAST(created_at AS DATE) AS day, sum(spend) AS spend, count(*) AS requests
FROM "LiteLLM_SpendLogs"
WHERE created_at >= %(cutoff)s
GROUP BY 1, 2, 3, 4, 5
