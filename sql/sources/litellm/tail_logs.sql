-- Log by log, a LiteLLM database's logs from the cutoff on (event time "startTime", index-backed) of some
-- days and some entities, normalized as sql/sources/litellm/spend_logs_range.sql does ('' is NULL), for
-- reconciliation (llmusage.reconcile.snapshot).
SELECT NULLIF(l.api_key, '') AS api_key, NULLIF(l."user", '') AS user_id, NULLIF(l.team_id, '') AS team_id,
       NULLIF(l.organization_id, '') AS organization_id, NULLIF(l.model, '') AS model, l.spend,
       l."startTime" AS event_time
FROM "LiteLLM_SpendLogs" AS l
WHERE l."startTime" >= %(cutoff)s
  AND CAST(l."startTime" AS DATE) = ANY(%(days)s::date[])
  AND (l.api_key = ANY(%(keys)s::text[]) OR l."user" = ANY(%(users)s::text[]) OR l.team_id = ANY(%(teams)s::text[])
       OR l.organization_id = ANY(%(organizations)s::text[]))
