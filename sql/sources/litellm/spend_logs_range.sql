-- A LiteLLM database's spend logs in the normalized shape (llmusage.sources.spend_logs), for one range of
-- event time. As LiteLLM writes them (proxy/spend_tracking/spend_tracking_utils.py, get_logging_payload):
-- event time is "startTime" (indexed: LiteLLM_SpendLogs_startTime_idx; `created_at` is write time, not
-- indexed, and one instant for every row older than the migration that added it); absent ids are '' (made
-- NULL here); provider is custom_llm_provider; the public model is model_group (the deployment's `model`
-- when it is empty); `cache_hit` is the text 'True'/'False'; a log without `status` predates failure
-- logging and is a success. Master-key calls keep api_key 'litellm_proxy_master_key' as their principal.
-- Bodies (`messages`, `response`, `proxy_server_request`) are read only when asked for ({payload}).
-- {since} and {until} are timestamps quoted client-side (ADBC streams COPY only without bind parameters).
SELECT
    l.request_id,
    l."startTime" AS event_time,
    l."endTime" AS end_time,
    l.created_at,
    NULLIF(l.api_key, '') AS api_key,
    NULLIF(l."user", '') AS user_id,
    NULLIF(l.team_id, '') AS team_id,
    NULLIF(l.organization_id, '') AS organization_id,
    NULLIF(l.end_user, '') AS end_user,
    NULLIF(l.model, '') AS model,
    COALESCE(NULLIF(l.model_group, ''), NULLIF(l.model, '')) AS model_group,
    NULLIF(l.custom_llm_provider, '') AS provider,
    NULLIF(l.call_type, '') AS call_type,
    COALESCE(NULLIF(l.status, ''), 'success') AS status,
    l.cache_hit = 'True' AS cache_hit,
    l.prompt_tokens,
    l.completion_tokens,
    l.total_tokens,
    l.spend,
    CAST(COALESCE(l.request_duration_ms, EXTRACT(EPOCH FROM l."endTime" - l."startTime") * 1000) AS double precision) AS latency_ms,
    CAST(l.metadata AS text) AS metadata,
    CAST(l.request_tags AS text) AS request_tags{payload}
FROM "LiteLLM_SpendLogs" AS l
WHERE l."startTime" >= {since} AND l."startTime" < {until}
