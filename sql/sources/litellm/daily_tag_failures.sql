-- Failed requests in LiteLLM's daily tag table per (date, api_key, tag): what the tag rows count of failures,
-- compared with the failed logs of the same key, day and tag to tell how many requests were failures that
-- left no log (disable_error_logs). Only rows with failures (a handful).
SELECT
    CAST(d.date AS date) AS day,
    d.api_key,
    d.tag,
    CAST(sum(d.failed_requests) AS bigint) AS failed
FROM "LiteLLM_DailyTagSpend" AS d
WHERE d.failed_requests > 0
GROUP BY d.date, d.api_key, d.tag
