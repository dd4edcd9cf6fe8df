-- Per key, user, team and organization: spend in the lake (ledger) against max_budget and the recorded
-- spend column. A log's organization is its team's, else its user's.
WITH logs AS (
    SELECT l.api_key, l."user", l.team_id, COALESCE(t.organization_id, u.organization_id) AS organization_id, l.spend
    FROM spend_logs AS l
    LEFT JOIN teams AS t ON t.team_id = l.team_id
    LEFT JOIN users AS u ON u.user_id = l."user"
),
ledger AS (
    SELECT 'key' AS entity_type, api_key AS entity_id, sum(spend) AS ledger_spend FROM logs GROUP BY ALL
    UNION ALL
    SELECT 'user', "user", sum(spend) FROM logs GROUP BY ALL
    UNION ALL
    SELECT 'team', team_id, sum(spend) FROM logs GROUP BY ALL
    UNION ALL
    SELECT 'organization', organization_id, sum(spend) FROM logs GROUP BY ALL
),
entities AS (
    SELECT 'key' AS entity_type, token AS entity_id, COALESCE(key_alias, key_name, token) AS name, spend AS recorded_spend, max_budget FROM keys
    UNION ALL
    SELECT 'user', user_id, COALESCE(user_email, user_id), spend, max_budget FROM users
    UNION ALL
    SELECT 'team', team_id, COALESCE(team_alias, team_id), spend, max_budget FROM teams
    UNION ALL
    SELECT 'organization', organization_id, COALESCE(organization_alias, organization_id), spend, max_budget FROM organizations
)
SELECT
    e.entity_type,
    e.entity_id,
    e.name,
    COALESCE(l.ledger_spend, 0) AS ledger_spend,
    e.recorded_spend,
    e.recorded_spend - COALESCE(l.ledger_spend, 0) AS drift,
    e.max_budget,
    COALESCE(l.ledger_spend, 0) / NULLIF(e.max_budget, 0) AS utilization,
    CASE
        WHEN e.max_budget IS NULL THEN 'ok'
        WHEN COALESCE(l.ledger_spend, 0) >= e.max_budget THEN 'exceeded'
        WHEN COALESCE(l.ledger_spend, 0) >= 0.8 * e.max_budget THEN 'warning'
        ELSE 'ok'
    END AS status
FROM entities AS e
LEFT JOIN ledger AS l ON l.entity_type = e.entity_type AND l.entity_id = e.entity_id
