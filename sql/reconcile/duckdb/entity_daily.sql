-- Spend per entity, model and UTC day: every log counted once, from the lake's rollups of the days before
-- the cutoff day, that day's logs before the cutoff, and PostgreSQL's sums from the cutoff on. A log's organization is its team's, else its user's.
CREATE OR REPLACE TEMP TABLE entity_daily AS
WITH grain AS (
    SELECT api_key, "user", team_id, model, day, sum(spend) AS spend, sum(requests) AS requests
    FROM (
        SELECT api_key, "user", team_id, model, day, spend, requests FROM lake_grain
        UNION ALL
        SELECT api_key, "user", team_id, model, day, spend, requests FROM partial_grain
        UNION ALL
        SELECT api_key, "user", team_id, model, day, spend, requests FROM tail_grain
    ) AS both_sources
    GROUP BY ALL
),
attributed AS (
    SELECT g.*, COALESCE(t.organization_id, u.organization_id) AS organization_id
    FROM grain AS g
    LEFT JOIN pg_teams AS t ON t.team_id = g.team_id
    LEFT JOIN pg_users AS u ON u.user_id = g."user"
)
SELECT 'key' AS entity_type, api_key AS entity_id, model, day, sum(spend) AS spend, sum(requests) AS requests
FROM attributed WHERE api_key IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'user', "user", model, day, sum(spend), sum(requests) FROM attributed WHERE "user" IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'team', team_id, model, day, sum(spend), sum(requests) FROM attributed WHERE team_id IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'organization', organization_id, model, day, sum(spend), sum(requests)
FROM attributed WHERE organization_id IS NOT NULL GROUP BY ALL
