-- Per UTC day of "startTime" (LiteLLM's event time) in a bound range [since, until): rows and spend sum,
-- for retention to compare with the lake before it deletes a day. The range is index-backed
-- (LiteLLM_SpendLogs_startTime_idx); the sum reads the heap of the days checked, only the old ones.
SELECT CAST("startTime" AS date) AS day, count(*) AS n_rows, COALESCE(sum(spend), 0) AS spend
FROM "LiteLLM_SpendLogs"
WHERE "startTime" >= %(since)s AND "startTime" < %(until)s
GROUP BY 1
ORDER BY 1
