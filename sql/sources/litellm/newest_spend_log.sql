-- The newest spend log's event time (one probe of LiteLLM_SpendLogs_startTime_idx).
SELECT max("startTime") FROM "LiteLLM_SpendLogs"
