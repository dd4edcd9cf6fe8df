-- Per UTC day of event time in a bound range [since, until): rows and spend sum, for retention to compare
-- with the lake before it deletes a day. The range is index-backed (idx_spendlogs_created_at); the sum
-- reads the heap of the days checked, only the days old enough to be pruned.
SELECT created_at::date AS day, count(*) AS n_rows, COALESCE(sum(spend), 0) AS spend
FROM "LiteLLM_SpendLogs"
WHERE created_at >= %(since)s AND created_at < %(until)s
GROUP BY 1
ORDER BY 1
