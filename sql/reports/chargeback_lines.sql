-- A month's chargeback lines: one per UTC day x sub-account (team or organization, $by) x model x
-- provider x user x key x tag set. Cost is summed as DECIMAL(38,12): exact and order-independent, so a
-- re-run gives the same digits.
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
    count(*) AS requests,
    sum(tokens) AS tokens,
    sum(CAST(spend AS DECIMAL(38, 12))) AS cost
FROM spend_lines
WHERE day >= $start AND day < $end
GROUP BY ALL
