-- Spend per UTC day, organization and team (names resolved): the chart and forecast's grain, for SQL tools.
-- `requests` are neither failed nor cache hits; those are counted apart; spend is over every log.
SELECT
    day,
    org_id,
    org,
    team_id,
    team,
    count(*) FILTER (WHERE NOT failed AND NOT cached) AS requests,
    count(*) FILTER (WHERE failed) AS failed_requests,
    count(*) FILTER (WHERE cached) AS cached_requests,
    CAST(sum(tokens) AS BIGINT) AS tokens,
    sum(spend) AS spend
FROM spend_lines
GROUP BY ALL
