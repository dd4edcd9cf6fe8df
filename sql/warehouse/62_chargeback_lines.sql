-- Chargeback lines by team for every month in the lake, FOCUS-style (as `llmusage chargeback` writes
-- them): one per UTC day x team x model x provider x user x key x tag set; BilledCost exact as DECIMAL
-- over every log; x_Requests counts the logs neither failed nor cache hits, x_FailedRequests and
-- x_CachedRequests the others.
SELECT
    CAST(date_trunc('month', day) AS TIMESTAMPTZ) AS BillingPeriodStart,
    CAST(date_trunc('month', day) + INTERVAL 1 MONTH AS TIMESTAMPTZ) AS BillingPeriodEnd,
    CAST(day AS TIMESTAMPTZ) AS ChargePeriodStart,
    CAST(day + INTERVAL 1 DAY AS TIMESTAMPTZ) AS ChargePeriodEnd,
    'Usage' AS ChargeCategory,
    sum(CAST(spend AS DECIMAL(38, 12))) AS BilledCost,
    sum(CAST(spend AS DECIMAL(38, 12))) AS EffectiveCost,
    'USD' AS BillingCurrency,
    CAST(sum(tokens) AS BIGINT) AS ConsumedQuantity,
    'Tokens' AS ConsumedUnit,
    model AS ServiceName,
    provider AS ProviderName,
    COALESCE(team_id, '(none)') AS SubAccountId,
    team AS SubAccountName,
    to_json({'user': "user", 'key_alias': key_alias, 'key_hash_prefix': left(api_key, 8), 'request_tags': list_sort(list_distinct(tags))}) AS Tags,
    count(*) FILTER (WHERE NOT failed AND NOT cached) AS x_Requests,
    count(*) FILTER (WHERE failed) AS x_FailedRequests,
    count(*) FILTER (WHERE cached) AS x_CachedRequests
FROM spend_lines
GROUP BY day, model, provider, team_id, team, "user", key_alias, api_key, list_sort(list_distinct(tags))
