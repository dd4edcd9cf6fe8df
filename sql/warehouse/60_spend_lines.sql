-- One row per spend log with every report dimension resolved: UTC day/week/month, organization (the
-- team's, else the user's: the organization rule in llmusage.entities), team, user, key (alias plus an
-- 8-character hash prefix, never the bare hash), model, provider, request tags. The base of
-- `llmusage report spend` and of the chargeback.
SELECT
    l.request_id,
    l.created_at,
    CAST(l."date" AS DATE) AS day,
    CAST(date_trunc('week', CAST(l."date" AS DATE)) AS DATE) AS week,
    strftime(CAST(l."date" AS DATE), '%Y-%m') AS month,
    COALESCE(t.organization_id, u.organization_id) AS org_id,
    COALESCE(o.organization_alias, t.organization_id, u.organization_id, '(no org)') AS org,
    l.team_id,
    COALESCE(t.team_alias, l.team_id, '(no team)') AS team,
    COALESCE(l."user", '(no user)') AS "user",
    l.api_key,
    COALESCE(k.key_alias, k.key_name, CASE WHEN k.token IS NULL AND l.api_key IS NOT NULL THEN '(deleted key)' END, '(no key)') AS key_alias,
    CASE
        WHEN l.api_key IS NULL THEN '(no key)'
        ELSE COALESCE(k.key_alias, k.key_name, CASE WHEN k.token IS NULL THEN '(deleted key)' ELSE '(no alias)' END) || ' (' || left(l.api_key, 8) || ')'
    END AS "key",
    COALESCE(l.model, '(unknown)') AS model,
    COALESCE(l.api_provider, '(unknown)') AS provider,
    COALESCE(l.tags, CAST([] AS VARCHAR[])) AS tags,
    COALESCE(l.prompt_tokens, 0) AS prompt_tokens,
    COALESCE(l.completion_tokens, 0) AS completion_tokens,
    COALESCE(l.total_tokens, 0) AS tokens,
    COALESCE(l.spend, 0) AS spend
FROM spend_logs AS l
LEFT JOIN keys AS k ON k.token = l.api_key
LEFT JOIN teams AS t ON t.team_id = l.team_id
LEFT JOIN users AS u ON u.user_id = l."user"
LEFT JOIN organizations AS o ON o.organization_id = COALESCE(t.organization_id, u.organization_id)
