-- Spend per entity, model and UTC day: every log counted once, from the lake's rollups of the days before
-- the cutoff day, that day's logs before the cutoff, and PostgreSQL's sums from the cutoff on. A log's
-- organization is its team's, else its user's (`log_organization`, log_organization.sql).
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
    SELECT *, log_organization(team_id, "user") AS organization_id FROM grain
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
