-- The newest spend log's created_at (uses idx_spendlogs_created_at).
SELECT max(created_at) FROM "LiteLLM_SpendLogs"
