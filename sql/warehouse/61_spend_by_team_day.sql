-- Spend per UTC day, organization and team (names resolved): the chart and forecast's grain, for SQL tools.
SELECT
    day,
    org_id,
    org,
    team_id,
    team,
    count(*) AS requests,
    CAST(sum(tokens) AS BIGINT) AS tokens,
    sum(spend) AS spend
FROM spend_lines
GROUP BY ALL
