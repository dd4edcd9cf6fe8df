-- The logs charged as each daily table charges them, per UTC day (`daily_log_grain`: the lake's grain and
-- PostgreSQL's, which never overlap). As LiteLLM's daily writer does (daily_spend_bulk_upsert.py,
-- daily_spend_entity_ids): the user and team tables take every request ('' ids included), the organization
-- and end-user tables requests with one, the tag table each distinct tag of a request with the request's full
-- spend and one request. `failed` counts failures as the table does (once per tag in the tag table); the
-- fan-out is what a request with N tags adds beyond one request: N - 1 requests and (N - 1) times its spend.
CREATE OR REPLACE TEMP TABLE daily_logs AS
SELECT 'LiteLLM_DailyUserSpend' AS "table", day, sum(spend) AS spend, sum(requests) AS requests,
       sum(requests) FILTER (WHERE failed) AS failed, 0.0 AS fan_out_spend, 0 AS fan_out_requests
FROM daily_log_grain GROUP BY day
UNION ALL
SELECT 'LiteLLM_DailyTeamSpend', day, sum(spend), sum(requests), sum(requests) FILTER (WHERE failed), 0.0, 0
FROM daily_log_grain GROUP BY day
UNION ALL
SELECT 'LiteLLM_DailyOrganizationSpend', day, sum(spend), sum(requests), sum(requests) FILTER (WHERE failed), 0.0, 0
FROM daily_log_grain WHERE has_organization GROUP BY day
UNION ALL
SELECT 'LiteLLM_DailyEndUserSpend', day, sum(spend), sum(requests), sum(requests) FILTER (WHERE failed), 0.0, 0
FROM daily_log_grain WHERE has_end_user GROUP BY day
UNION ALL
SELECT 'LiteLLM_DailyTagSpend', day, sum(spend), sum(requests),
       sum(requests * len(tags)) FILTER (WHERE failed),
       sum(spend * (len(tags) - 1)), sum(requests * (len(tags) - 1))
FROM daily_log_grain WHERE len(tags) > 0 GROUP BY day
