-- Entities whose recorded spend is at or over their max_budget, worst first (llmusage flavour).
SELECT entity_type, entity_id, name, spend, max_budget
FROM (
    SELECT 'key' AS entity_type, token AS entity_id, COALESCE(key_alias, key_name, token) AS name, spend, max_budget
    FROM "LiteLLM_VerificationToken"
    UNION ALL
    SELECT 'user', user_id, COALESCE(user_email, user_id), spend, max_budget
    FROM "LiteLLM_UserTable"
    UNION ALL
    SELECT 'team', team_id, COALESCE(team_alias, team_id), spend, max_budget
    FROM "LiteLLM_TeamTable"
    UNION ALL
    SELECT 'organization', organization_id, COALESCE(organization_alias, organization_id), spend, max_budget
    FROM "LiteLLM_OrganizationTable"
) AS entities
WHERE max_budget IS NOT NULL AND spend >= max_budget
ORDER BY spend / NULLIF(max_budget, 0) DESC NULLS FIRST, entity_type, entity_id
