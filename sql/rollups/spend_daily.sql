-- One day's spend per key, user, team, model and provider (`day_logs` is that day's lake partition).
SELECT
    CAST("date" AS DATE) AS day,
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
FROM day_logs
GROUP BY ALL
ORDER BY spend DESC, api_key, model
