-- A key's spend in its current budget window (metadata.budget_duration): its logs since the window's start.
SELECT COALESCE(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE api_key = %(id)s AND created_at >= %(since)s
