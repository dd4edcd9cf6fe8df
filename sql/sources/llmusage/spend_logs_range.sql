-- The llmusage flavour's spend logs in the normalized shape (llmusage.sources.spend_logs), for one range of
-- event time. Event time is `created_at` (the llmusage proxy writes a log once, stamped at the request), so
-- the range is index-backed (idx_spendlogs_created_at). A log's organization is its team's, else its
-- user's (the organization rule in llmusage.entities). `tags` is left to the client (llmusage.lake.tags
-- reads `metadata`); `{payload}` is `, l.payload::text AS payload` when bodies were asked for, else empty.
-- {since} and {until} are timestamps quoted client-side (ADBC streams COPY only without bind parameters).
SELECT
    l.request_id,
    l.created_at AS event_time,
    CAST(NULL AS timestamp) AS end_time,
    l.created_at,
    l.api_key,
    l."user" AS user_id,
    l.team_id,
    COALESCE(t.organization_id, u.organization_id) AS organization_id,
    NULLIF(l.metadata ->> 'end_user', '') AS end_user,
    l.model,
    l.model AS model_group,
    l.api_provider AS provider,
    l.metadata ->> 'call_type' AS call_type,
    COALESCE(l.metadata ->> 'status', 'success') AS status,
    FALSE AS cache_hit,
    l.prompt_tokens,
    l.completion_tokens,
    l.total_tokens,
    l.spend,
    CAST(l.metadata ->> 'latency_ms' AS double precision) AS latency_ms,
    CAST(l.metadata AS text) AS metadata{payload}
FROM "LiteLLM_SpendLogs" AS l
LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = l.team_id
LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = l."user"
WHERE l.created_at >= {since} AND l.created_at < {until}
