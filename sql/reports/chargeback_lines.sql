-- A month's chargeback lines: one per UTC day x sub-account (team or organization, $by) x model x
-- provider x user x key x tag set. Cost is summed as DECIMAL(38,12) over every log (failed and cached
-- ones too): exact and order-independent, so a re-run gives the same digits. `requests` counts the logs
-- neither failed nor cache hits; `failed_requests` and `cached_requests` the others.
SELECT
    day,
    CASE WHEN $by = 'org' THEN COALESCE(org_id, '(none)') ELSE COALESCE(team_id, '(none)') END AS sub_account_id,
    CASE WHEN $by = 'org' THEN org ELSE team END AS sub_account_name,
    model,
    provider,
    "user",
    api_key,
    key_alias,
    list_sort(list_distinct(tags)) AS tags,
    count(*) FILTER (WHERE NOT failed AND NOT cached) AS requests,
    count(*) FILTER (WHERE failed) AS failed_requests,
    count(*) FILTER (WHERE cached) AS cached_requests,
    sum(tokens) AS tokens,
    sum(CAST(spend AS DECIMAL(38, 12))) AS cost
FROM spend_lines
WHERE day >= $start AND day < $end
GROUP BY ALL
