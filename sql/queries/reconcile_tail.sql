-- Spend logs from the cutoff on: the days the lake may not hold in full yet.
SELECT request_id, api_key, "user", team_id, model, spend, created_at
FROM "LiteLLM_SpendLogs"
WHERE created_at >= %(cutoff)s
