-- One of LiteLLM's daily spend tables summed per date (the text 'YYYY-MM-DD', the UTC day of "startTime"):
-- spend, requests and failed requests over every row, '' ids included. The table's name is composed in
-- with psycopg's sql.Identifier (llmusage.reconcile.daily_tables); a few rows per day come back.
SELECT
    CAST(d.date AS date) AS day,
    sum(d.spend) AS spend,
    CAST(sum(d.api_requests) AS bigint) AS requests,
    CAST(sum(d.failed_requests) AS bigint) AS failed
FROM {table} AS d
GROUP BY d.date
