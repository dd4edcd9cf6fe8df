-- The spend lines of a UTC day range, summed by every dimension at once (day grain, tags as a list);
-- `llmusage report spend` filters and regroups this small table by the dimensions asked for.
SELECT
    day, week, month, org_id, org, team_id, team, "user", api_key, "key", model, provider, tags,
    count(*) AS requests,
    CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens,
    CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens,
    CAST(sum(tokens) AS BIGINT) AS tokens,
    sum(spend) AS spend
FROM spend_lines
WHERE day >= $start AND day <= $end
GROUP BY ALL
