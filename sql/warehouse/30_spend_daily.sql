-- materialize: table
-- Spend per UTC day (of event time), key, user, team, organization, model and provider; also the grain
-- reconciliation's ledger is summed from (llmusage.lake.rollups).
SELECT
    CAST("date" AS DATE) AS day,  -- the partition: the UTC day, whatever the session time zone
    api_key,
    user_id,
    team_id,
    organization_id,
    model,
    provider,
    count(*) AS requests,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(spend) AS spend
FROM spend_logs
GROUP BY ALL
