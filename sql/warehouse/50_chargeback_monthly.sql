-- Spend per calendar month (UTC) and team, with the team's organization; logs without a team are
-- charged to team_id NULL.
SELECT
    CAST(date_trunc('month', CAST(l."date" AS DATE)) AS DATE) AS month,  -- UTC, from the partition
    l.team_id,
    t.team_alias,
    t.organization_id,
    count(*) AS requests,
    sum(l.total_tokens) AS total_tokens,
    sum(l.spend) AS spend
FROM spend_logs AS l
LEFT JOIN teams AS t ON t.team_id = l.team_id
GROUP BY ALL
