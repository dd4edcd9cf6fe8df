-- Bench only: a new UTC day of traffic, copied from the last seeded day (2026-11-20) one day later.
INSERT INTO "LiteLLM_SpendLogs" (request_id, api_key, model, api_provider, total_tokens, prompt_tokens,
    completion_tokens, spend, "user", team_id, metadata, created_at)
SELECT 'bench-newday-' || request_id, api_key, model, api_provider, total_tokens, prompt_tokens,
    completion_tokens, spend, "user", team_id, metadata, created_at + interval '1 day'
FROM "LiteLLM_SpendLogs"
WHERE created_at >= '2026-11-20' AND created_at < '2026-11-21'
