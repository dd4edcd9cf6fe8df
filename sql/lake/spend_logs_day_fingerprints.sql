-- Per UTC day from a bound start (inclusive): rows, spend and latest created_at. The range predicate
-- uses idx_spendlogs_created_at, so the cost follows the days checked, not the table.
SELECT created_at::date AS day, count(*) AS n_rows, sum(spend) AS spend, max(created_at) AS max_created_at
FROM "LiteLLM_SpendLogs"
WHERE created_at >= %(since)s AND created_at < %(until)s
GROUP BY 1
ORDER BY 1
