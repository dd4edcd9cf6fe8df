-- Entities whose current-period spend counter is over their limit as LiteLLM judges it, worst first (LiteLLM
-- flavour). LiteLLM resets `spend` at `budget_reset_at` when a duration is set, so `spend` is the period's
-- counter. Limits: keys their `max_budget` column, else their budget row (`budget_id`); users and teams their
-- column; organizations, end users, tags and team memberships their budget row. LiteLLM refuses teams, end
-- users and tags only above the limit (`strict`), the others at it. `''` is no id.
SELECT entity_type, entity_id, name, spend, max_budget
FROM (
    SELECT
        'key' AS entity_type, k.token AS entity_id,
        COALESCE(NULLIF(k.key_alias, ''), NULLIF(k.key_name, ''), k.token) AS name,
        k.spend, COALESCE(k.max_budget, b.max_budget) AS max_budget, FALSE AS strict
    FROM "LiteLLM_VerificationToken" AS k
    LEFT JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = NULLIF(k.budget_id, '')
    UNION ALL
    SELECT 'user', user_id, COALESCE(NULLIF(user_email, ''), NULLIF(user_alias, ''), user_id), spend, max_budget,
           FALSE
    FROM "LiteLLM_UserTable"
    UNION ALL
    SELECT 'team', team_id, COALESCE(NULLIF(team_alias, ''), team_id), spend, max_budget, TRUE
    FROM "LiteLLM_TeamTable"
    UNION ALL
    SELECT
        'organization', o.organization_id, COALESCE(NULLIF(o.organization_alias, ''), o.organization_id),
        o.spend, b.max_budget, FALSE
    FROM "LiteLLM_OrganizationTable" AS o
    JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = NULLIF(o.budget_id, '')
    UNION ALL
    SELECT 'end_user', e.user_id, COALESCE(NULLIF(e.alias, ''), e.user_id), e.spend, b.max_budget, TRUE
    FROM "LiteLLM_EndUserTable" AS e
    JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = e.budget_id
    UNION ALL
    SELECT 'tag', t.tag_name, t.tag_name, t.spend, b.max_budget, TRUE
    FROM "LiteLLM_TagTable" AS t
    JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = t.budget_id
    UNION ALL
    SELECT 'team_member', m.user_id || ':' || m.team_id, m.user_id || ' in ' || m.team_id, m.spend, b.max_budget,
           FALSE
    FROM "LiteLLM_TeamMembership" AS m
    JOIN "LiteLLM_BudgetTable" AS b ON b.budget_id = m.budget_id
) AS entities
WHERE entity_id <> '' AND max_budget IS NOT NULL
  AND CASE WHEN strict THEN spend > max_budget ELSE spend >= max_budget END
ORDER BY spend / NULLIF(max_budget, 0) DESC NULLS FIRST, entity_type, entity_id
