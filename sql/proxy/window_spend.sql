-- An entity's spend in its current budget window (metadata.budget_duration): its logs since the window's start.
-- Keys, users and teams: the column is the kind's spend-log column (llmusage.entities: api_key, "user", team_id),
-- composed in as an identifier by llmusage.proxy.auth.window_spend_query.
SELECT COALESCE(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE {column} = %(id)s AND created_at >= %(since)s
