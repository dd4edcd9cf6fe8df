-- The first and last event time (two probes of LiteLLM_SpendLogs_startTime_idx).
SELECT min("startTime"), max("startTime") FROM "LiteLLM_SpendLogs"
