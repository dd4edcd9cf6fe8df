-- Total logged spend, requests and the time range of the spend logs, by event time ("startTime";
-- `created_at` is write time, one instant for every older row on upgraded deployments).
SELECT count(*) AS requests, COALESCE(sum(spend), 0) AS spend, min("startTime") AS first, max("startTime") AS last
FROM "LiteLLM_SpendLogs"
