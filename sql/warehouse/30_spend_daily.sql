-- materialize: table
-- Spend per UTC day (of the request's event time: the partition), key, user, team, organization (as the
-- log carries it), model (deployment), model group (public name) and provider. `requests` counts the
-- logs that are neither failed (status 'failure') nor cache hits; `failed_requests` and `cached_requests`
-- count those apart (the three add up to the logs); spend is the sum over all of them.
-- The daily rollups (llmusage.lake.rollups) that reconciliation reads are this query over one day.
SELECT
    CAST("date" AS DATE) AS day,  -- the partition: the UTC day, whatever the session time zone
    api_key,
    user_id,
    team_id,
    organization_id,
    model,
    model_group,
    provider,
    count(*) FILTER (WHERE COALESCE(status, 'success') <> 'failure' AND NOT COALESCE(cache_hit, FALSE)) AS requests,
    count(*) FILTER (WHERE status = 'failure') AS failed_requests,
    count(*) FILTER (WHERE COALESCE(status, 'success') <> 'failure' AND COALESCE(cache_hit, FALSE)) AS cached_requests,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(spend) AS spend
FROM spend_logs
GROUP BY ALL
