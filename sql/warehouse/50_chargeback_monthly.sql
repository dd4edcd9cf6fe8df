-- Spend per calendar month (UTC, of the request's event time) and team, with the organization the logs
-- carry (on a LiteLLM database its column, on an llmusage one the team's, else the user's); logs without
-- a team are charged to team_id NULL. Request counts as in spend_daily: `requests` (neither failed nor a
-- cache hit), `failed_requests`, `cached_requests`; spend sums them all.
SELECT
    CAST(date_trunc('month', CAST(l."date" AS DATE)) AS DATE) AS month,  -- UTC, from the partition
    l.team_id,
    t.team_alias,
    l.organization_id,
    o.organization_alias,
    count(*) FILTER (WHERE COALESCE(l.status, 'success') <> 'failure' AND NOT COALESCE(l.cache_hit, FALSE)) AS requests,
    count(*) FILTER (WHERE l.status = 'failure') AS failed_requests,
    count(*) FILTER (WHERE COALESCE(l.status, 'success') <> 'failure' AND COALESCE(l.cache_hit, FALSE)) AS cached_requests,
    sum(l.total_tokens) AS total_tokens,
    sum(l.spend) AS spend
FROM spend_logs AS l
LEFT JOIN teams AS t ON t.team_id = l.team_id
LEFT JOIN organizations AS o ON o.organization_id = l.organization_id
GROUP BY ALL
