-- Spend per entity, model and UTC day: every log counted once, from the lake's rollups of the days before
-- the cutoff day, that day's logs before the cutoff, and PostgreSQL's sums from the cutoff on. A log counts
-- for its key, user, team and organization (the normalized log carries it: see llmusage.entities). On a
-- LiteLLM database too a user's ledger is all of the user's logs: LiteLLM enforces a user's budget on
-- personal keys only, but against LiteLLM_UserTable.spend, which team keys add to as well (its issue #26239).
CREATE OR REPLACE TEMP TABLE entity_daily AS
WITH grain AS (
    SELECT api_key, user_id, team_id, organization_id, model, day, sum(spend) AS spend, sum(requests) AS requests
    FROM (
        SELECT api_key, user_id, team_id, organization_id, model, day, spend, requests FROM lake_grain
        UNION ALL
        SELECT api_key, user_id, team_id, organization_id, model, day, spend, requests FROM partial_grain
        UNION ALL
        SELECT api_key, user_id, team_id, organization_id, model, day, spend, requests FROM tail_grain
    ) AS both_sources
    GROUP BY ALL
)
SELECT 'key' AS entity_type, api_key AS entity_id, model, day, sum(spend) AS spend, sum(requests) AS requests
FROM grain WHERE api_key IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'user', user_id, model, day, sum(spend), sum(requests) FROM grain
WHERE user_id IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'team', team_id, model, day, sum(spend), sum(requests) FROM grain WHERE team_id IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'organization', organization_id, model, day, sum(spend), sum(requests)
FROM grain WHERE organization_id IS NOT NULL GROUP BY ALL
