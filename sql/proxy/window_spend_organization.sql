-- An organization's spend in its current budget window: its logs since the start, a log being its team's
-- organization's, else its user's (the organization rule in llmusage.entities).
SELECT COALESCE(sum(l.spend), 0)
FROM "LiteLLM_SpendLogs" AS l
LEFT JOIN "LiteLLM_TeamTable" AS t ON t.team_id = l.team_id
LEFT JOIN "LiteLLM_UserTable" AS u ON u.user_id = l."user"
WHERE l.created_at >= %(since)s AND COALESCE(t.organization_id, u.organization_id) = %(id)s
