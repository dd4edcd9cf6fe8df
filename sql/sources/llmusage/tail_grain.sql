-- The normalized logs from the cutoff on, summed at the ledger's grain (key, user, team, organization,
-- model, UTC day of event time = created_at), for reconciliation (llmusage.reconcile.snapshot).
SELECT l.api_key, l."user" AS user_id, l.team_id, COALESCE(t.organization_id, u.organization_id) AS organization_id,
       l.model, CAST(l.created_at AS DATE) AS day, sum(l.spend) AS spend, count(*) AS requests
FROM "LiteLLM_SpendLogs" AS l
LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = l.team_id
LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = l."user"
WHERE l.created_at >= %(cutoff)s
GROUP BY 1, 2, 3, 4, 5, 6
