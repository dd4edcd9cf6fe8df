-- Per UTC day of event time from a bound start (inclusive): rows and the newest "startTime". Both come
-- from LiteLLM_SpendLogs_startTime_idx alone (an index-only scan): `created_at` has no index on a LiteLLM
-- database, so change detection uses event time and the row count (a late row is a new row of its day).
SELECT CAST("startTime" AS date) AS day, count(*) AS n_rows, max("startTime") AS newest
FROM "LiteLLM_SpendLogs"
WHERE "startTime" >= %(since)s AND "startTime" < %(until)s
GROUP BY 1
ORDER BY 1
