-- The cutoff day's logs before the cutoff instant (`cutoff_files` is that day's partition), at the
-- ledger's grain: the part of the newest lake day that is settled (older than the lake's newest row
-- minus the extract's lag window).
CREATE OR REPLACE TEMP TABLE partial_grain AS
SELECT api_key, user_id, team_id, organization_id, model, CAST("date" AS DATE) AS day, sum(spend) AS spend, count(*) AS requests
FROM cutoff_files
WHERE CAST(event_time AS TIMESTAMP) < (SELECT cutoff FROM bounds)
GROUP BY ALL
