-- materialize: table
-- Spend per UTC day, key, user, team, model and provider.
SELECT
    CAST("date" AS DATE) AS day,  -- the partition: the UTC day, whatever the session time zone
    api_key,
    "user",
    team_id,
    model,
    api_provider,
    count(*) AS requests,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(spend) AS spend
FROM spend_logs
GROUP BY ALL
