-- Total logged spend, requests and the time range of the spend logs (llmusage flavour: created_at is event time).
SELECT count(*) AS requests, COALESCE(sum(spend), 0) AS spend, min(created_at) AS first, max(created_at) AS last
FROM "LiteLLM_SpendLogs"
