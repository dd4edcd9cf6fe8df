-- A month's chargeback groups: one per UTC day x sub-account (team or organization, $by; NULL when the log
-- has none) x model x provider x user x key x tag set, with the prompt and completion tokens apart (they
-- are priced apart: `reports/focus.py` makes one FOCUS line per token type of each group). Cost is summed
-- as DECIMAL(38,12) over every log (failed and cached ones too): exact and order-independent, so a re-run
-- gives the same digits. `requests` counts the logs neither failed nor cache hits; `failed_requests` and
-- `cached_requests` the others.
SELECT
    day,
    CASE WHEN $by = 'org' THEN org_id ELSE team_id END AS sub_account_id,
    CASE WHEN $by = 'org' THEN (CASE WHEN org_id IS NOT NULL THEN org END)
         ELSE (CASE WHEN team_id IS NOT NULL THEN team END) END AS sub_account_name,
    model,
    model_group,
    provider,
    user_id,
    "user",
    api_key,
    key_alias,
    list_sort(list_distinct(tags)) AS tags,
    count(*) FILTER (WHERE NOT failed AND NOT cached) AS requests,
    count(*) FILTER (WHERE failed) AS failed_requests,
    count(*) FILTER (WHERE cached) AS cached_requests,
    CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens,
    CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens,
    sum(CAST(spend AS DECIMAL(38, 12))) AS cost
FROM spend_lines
WHERE day >= $start AND day < $end
GROUP BY ALL
