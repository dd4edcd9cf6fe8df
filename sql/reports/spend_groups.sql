-- The spend lines of a UTC day range, summed by every dimension at once (day grain, tags as a list);
-- `llmusage report spend` filters and regroups this small table by the dimensions asked for. End users
-- can be many (one per customer of an app): they are kept apart only when $by_end_user is true, else
-- NULL. `requests` counts the logs neither failed nor cache hits; `failed_requests` and `cached_requests`
-- the others; spend and tokens are over every log.
SELECT
    day, week, month, org_id, org, team_id, team, user_id, "user", api_key, "key",
    CASE WHEN $by_end_user THEN end_user END AS end_user,
    model, model_group, provider, call_type, status, tags,
    count(*) FILTER (WHERE NOT failed AND NOT cached) AS requests,
    count(*) FILTER (WHERE failed) AS failed_requests,
    count(*) FILTER (WHERE cached) AS cached_requests,
    CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens,
    CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens,
    CAST(sum(tokens) AS BIGINT) AS tokens,
    sum(spend) AS spend
FROM spend_lines
WHERE day >= $start AND day <= $end
GROUP BY ALL
