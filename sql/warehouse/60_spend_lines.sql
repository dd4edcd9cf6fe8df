-- One row per spend log with every report dimension resolved: UTC day/week/month of the request's event
-- time (the partition), organization as the log carries it (each flavour's rule is applied at extract:
-- llmusage.sources.spend_logs), team, user (by email, its id where it has none), key (alias plus an 8-character hash prefix, never the bare
-- hash; LiteLLM's master key as `(master key)`), end user, model (the deployment), model group (the public
-- name), provider, call type, status, request tags. `failed` is a log with status 'failure'; `cached` a
-- cache hit that did not fail: reports count `requests` (neither), `failed_requests` and `cached_requests`
-- apart, and sum spend over all of them. The base of `llmusage report spend` and of the chargeback.
SELECT
    l.request_id,
    l.event_time,
    CAST(l."date" AS DATE) AS day,
    CAST(date_trunc('week', CAST(l."date" AS DATE)) AS DATE) AS week,
    strftime(CAST(l."date" AS DATE), '%Y-%m') AS month,
    l.organization_id AS org_id,
    COALESCE(o.organization_alias, l.organization_id, '(no org)') AS org,
    l.team_id,
    COALESCE(t.team_alias, l.team_id, '(no team)') AS team,
    l.user_id,
    COALESCE(NULLIF(u.user_email, ''), l.user_id, '(no user)') AS "user",
    l.api_key,
    CASE
        WHEN l.api_key = 'litellm_proxy_master_key' THEN '(master key)'
        ELSE COALESCE(k.key_alias, k.key_name, CASE WHEN k.token IS NULL AND l.api_key IS NOT NULL THEN '(deleted key)' END, '(no key)')
    END AS key_alias,
    CASE
        WHEN l.api_key IS NULL THEN '(no key)'
        WHEN l.api_key = 'litellm_proxy_master_key' THEN '(master key)'
        ELSE COALESCE(k.key_alias, k.key_name, CASE WHEN k.token IS NULL THEN '(deleted key)' ELSE '(no alias)' END) || ' (' || left(l.api_key, 8) || ')'
    END AS "key",
    COALESCE(l.end_user, '(no end user)') AS end_user,
    COALESCE(l.model, l.model_group, '(unknown)') AS model,
    COALESCE(l.model_group, l.model, '(unknown)') AS model_group,
    COALESCE(l.provider, '(unknown)') AS provider,
    COALESCE(l.call_type, '(unknown)') AS call_type,
    COALESCE(l.status, 'success') AS status,  -- a log without one predates failure logging
    COALESCE(l.status, 'success') = 'failure' AS failed,
    COALESCE(l.status, 'success') <> 'failure' AND COALESCE(l.cache_hit, FALSE) AS cached,
    COALESCE(l.tags, CAST([] AS VARCHAR[])) AS tags,
    COALESCE(l.prompt_tokens, 0) AS prompt_tokens,
    COALESCE(l.completion_tokens, 0) AS completion_tokens,
    COALESCE(l.total_tokens, 0) AS tokens,
    COALESCE(l.spend, 0) AS spend
FROM spend_logs AS l
LEFT JOIN keys AS k ON k.token = l.api_key
LEFT JOIN teams AS t ON t.team_id = l.team_id
LEFT JOIN users AS u ON u.user_id = l.user_id
LEFT JOIN organizations AS o ON o.organization_id = l.organization_id
