-- Log by log, the normalized logs from the cutoff on of some days and some entities (a window's first day,
-- a budget's crossing day), for reconciliation (llmusage.reconcile.snapshot). Event time is created_at; a
-- log's organization is its team's, else its user's (the organization rule in llmusage.entities).
SELECT l.api_key, l."user" AS user_id, l.team_id, COALESCE(t.organization_id, u.organization_id) AS organization_id,
       l.model, l.spend, l.created_at AS event_time
FROM "LiteLLM_SpendLogs" AS l
LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = l.team_id
LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = l."user"
WHERE l.created_at >= %(cutoff)s
  AND CAST(l.created_at AS DATE) = ANY(%(days)s::date[])
  AND (l.api_key = ANY(%(keys)s::text[]) OR l."user" = ANY(%(users)s::text[]) OR l.team_id = ANY(%(teams)s::text[])
       OR COALESCE(t.organization_id, u.organization_id) = ANY(%(organizations)s::text[]))
