-- One key with its user, team and organization (the team's organization, else the user's), for the proxy:
-- budgets, spend, flags (blocked; the block marker in metadata, llmusage.entities.BLOCK_MARKER) and what budget
-- windows need.
SELECT k.token, k.key_alias, k.user_id, k.team_id, k.models, k.max_budget, COALESCE(k.spend, 0),
       k.expires, COALESCE(k.blocked, FALSE),
       u.user_id IS NOT NULL, u.max_budget, COALESCE(u.spend, 0), COALESCE(u.user_metadata, '{}'::jsonb),
       t.team_id IS NOT NULL, t.max_budget, COALESCE(t.spend, 0), t.models, COALESCE(t.blocked, FALSE),
       o.organization_id, o.max_budget, COALESCE(o.spend, 0), COALESCE(o.metadata, '{}'::jsonb),
       COALESCE(k.metadata, '{}'::jsonb), k.created_at, u.created_at,
       COALESCE(t.metadata, '{}'::jsonb), t.created_at, o.created_at
FROM "LiteLLM_VerificationToken" k
LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = k.user_id
LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = k.team_id
LEFT JOIN "LiteLLM_OrganizationTable" o ON o.organization_id = COALESCE(t.organization_id, u.organization_id)
WHERE k.token = %(token)s
