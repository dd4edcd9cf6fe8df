-- Log by log, the logs from the cutoff on of some days and some entities (a window's first day, a budget's
-- crossing day). The subquery is the flavour's normalized spend log query from the cutoff on
-- (llmusage.sources.spend_logs, `range_sql`), so ids, organization and event time are the normalized ones.
SELECT api_key, user_id, team_id, organization_id, model, spend, event_time
FROM ({logs}) AS l
WHERE CAST(event_time AS DATE) = ANY(%(days)s::date[])
  AND (api_key = ANY(%(keys)s::text[]) OR user_id = ANY(%(users)s::text[]) OR team_id = ANY(%(teams)s::text[])
       OR organization_id = ANY(%(organizations)s::text[]))
