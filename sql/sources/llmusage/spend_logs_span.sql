-- The first and last created_at (two index probes on idx_spendlogs_created_at).
SELECT min(created_at), max(created_at) FROM "LiteLLM_SpendLogs"
